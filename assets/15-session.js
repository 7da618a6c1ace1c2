/* A session the server ended (logout elsewhere, a password change, a restart that lost it) must not leave
   a screen frozen. A wall screen signs in again by itself with its kiosk token: /kiosk hands the token to
   this page in the address fragment (#kiosk=…, never sent to a server), kept here in localStorage and
   removed from the address. A person is sent to the sign-in page, and back here afterwards. */
(function () {
    const KEY = "ioc-kiosk-token";
    const match = window.location.hash.match(/^#kiosk=([A-Za-z0-9_\-]+)$/);
    if (match) {
        window.localStorage.setItem(KEY, match[1]);
        window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    let leaving = false;
    const fetch = window.fetch.bind(window);
    window.fetch = function (resource, options) {
        return fetch(resource, options).then(function (response) {
            const url = typeof resource === "string" ? resource : (resource && resource.url) || "";
            if (response.status === 401 && url.indexOf("_dash-update-component") !== -1 && !leaving) {
                leaving = true;
                const token = window.localStorage.getItem(KEY);
                const here = window.location.pathname + window.location.search;
                if (token) {
                    const query = window.location.search.replace(/^\?/, "");
                    window.location.replace("/kiosk?token=" + encodeURIComponent(token) + (query ? "&" + query : ""));
                } else {
                    window.location.assign("/login?next=" + encodeURIComponent(here));
                }
            }
            return response;
        });
    };
})();
