// /docs: Swagger UI, started by tomo's own script (the page runs no inline script).
//
// "Try it out" sends the browser's cookies, so a person logged in to tomo acts as
// themselves. A write made with the session cookie must also carry the session's
// CSRF token (X-CSRF-Token): the login left a copy in a cookie this script may
// read (tomo_csrf, the double-submit copy), added here to writes to this tomo
// only, never to a request bound elsewhere. A bearer token given with
// "Authorize" needs none, and is sent as Swagger UI sends it.
"use strict";

(function () {
  const CSRF_COOKIE = "tomo_csrf";
  const CSRF_HEADER = "X-CSRF-Token";
  const SAFE_METHODS = ["GET", "HEAD", "OPTIONS"];

  function cookie(name) {
    const prefix = name + "=";
    const found = document.cookie.split("; ").find(function (part) {
      return part.startsWith(prefix);
    });
    return found ? decodeURIComponent(found.slice(prefix.length)) : "";
  }

  function sameOrigin(url) {
    try {
      return new URL(url, window.location.href).origin === window.location.origin;
    } catch (error) {
      return false;
    }
  }

  function withCsrfToken(request) {
    const method = String(request.method || "GET").toUpperCase();
    const token = cookie(CSRF_COOKIE);
    if (token && !SAFE_METHODS.includes(method) && sameOrigin(request.url)) {
      request.headers = request.headers || {};
      request.headers[CSRF_HEADER] = token;
    }
    return request;
  }

  const bundle = window.SwaggerUIBundle;
  window.ui = bundle({
    url: document.getElementById("swagger-ui").dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // Otherwise Swagger UI may send the whole API description to
    // validator.swagger.io for a badge.
    validatorUrl: null,
    presets: [bundle.presets.apis, bundle.SwaggerUIStandalonePreset],
    requestInterceptor: withCsrfToken,
  });
})();
