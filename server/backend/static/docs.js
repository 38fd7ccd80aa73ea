"use strict";
// Swagger UI from this server's own copy (no CDN), reading this server's OpenAPI document.
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
});
