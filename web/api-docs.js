// The public API's docs page (GET /api/v1/docs at both gateways): Swagger UI
// (web/vendor/swagger-ui-dist-*, pinned) showing the gateway's own OpenAPI document,
// GET /api/v1/openapi.json. Nothing is fetched from another host: no validator badge
// (validatorUrl null), no remote presets. "Try it out" sends requests from this page,
// so with the visitor's own session cookie, as the dashboard does.
"use strict";
(function () {
  window.SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#api-docs",
    deepLinking: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
  });
})();
