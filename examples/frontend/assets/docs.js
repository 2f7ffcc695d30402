// The interactive API page: Swagger UI on the document of the auth router, wherever the
// example mounts it (`/config.json` says where). Requests carry the session's cookies, so
// "Try it out" works once logged in on the demo page.
"use strict";

fetch("/config.json")
  .then((answer) => answer.json())
  .then((config) => {
    window.ui = SwaggerUIBundle({
      url: `${config.api}/openapi.json`,
      dom_id: "#swagger-ui",
      deepLinking: true,
      withCredentials: true,
      displayOperationId: true,
    });
  });
