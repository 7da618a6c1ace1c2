/* Drill-down navigation for /domain and /entity: push a new address the way dcc.Link does, so Dash
   renders the page for it and the URL always holds the view (shareable, bookmarkable, back button). */
window.iocDrill = {
    go: function (path, changes, keep) {
        const current = new URLSearchParams(window.location.search);
        const params = keep ? current : new URLSearchParams();
        if (!keep && current.get("lang")) { params.set("lang", current.get("lang")); }
        Object.entries(changes || {}).forEach(function ([key, value]) {
            if (value === null || value === undefined || value === "") { params.delete(key); }
            else { params.set(key, value); }
        });
        const query = params.toString();
        const url = (path || window.location.pathname) + (query ? "?" + query : "");
        if (url !== window.location.pathname + window.location.search) {
            window.history.pushState({}, "", url);
            window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
        }
    }
};
