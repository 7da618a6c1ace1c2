/* Functions for Dash clientside callbacks: window.dash_clientside.ioc.<name>. Served from assets/ (no CDN). */
window.dash_clientside = Object.assign({}, window.dash_clientside);
window.dash_clientside.ioc = Object.assign({}, window.dash_clientside.ioc, {
    /* Offline watchdog (panels/_components.py watchdog): runs every second in the browser. While the page's
       heartbeat (written by its server refresh) keeps changing, the page keeps `cfg.base` as its class; once
       no refresh has arrived for `cfg.periods` refresh periods it gets `offline` too, and the text says for
       how long (counted here, since the server cannot say it is gone). Dash intervals keep firing
       requests meanwhile, so the first refresh that gets through clears it. */
    watchdog: function (n, beat, cfg) {
        cfg = cfg || {};
        const now = Date.now();
        const all = (window._iocWatchdog = window._iocWatchdog || {});
        const state = (all[cfg.page] = all[cfg.page] || {});
        if (state.beat !== beat || !state.seen) { state.beat = beat; state.seen = now; }
        const silent = now - state.seen;
        const base = cfg.base || "";
        if (silent <= (cfg.periods || 3) * (cfg.refresh_ms || 5000)) { return [base, ""]; }
        const units = cfg.units || {};
        let rest = Math.floor(silent / 1000);
        const parts = [];
        for (const [size, unit] of [[86400, units.d], [3600, units.h], [60, units.m], [1, units.s]]) {
            if (rest >= size && parts.length < 2) { parts.push(Math.floor(rest / size) + " " + unit); rest %= size; }
        }
        const duration = parts.join(" ") || ("0 " + units.s);
        return [base + " offline", (cfg.text || "{duration}").replace("{duration}", duration)];
    }
});
