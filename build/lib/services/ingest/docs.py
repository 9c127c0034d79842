"""GET /docs: Swagger UI for the OpenAPI document, every asset served from here (works offline;
the Authorize button takes a bearer token)."""

from __future__ import annotations

import mimetypes

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

from libs.web.server import problem

# Only what the page loads: never the source maps or the vendor's own index page.
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png")
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>cliptrail API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/cliptrail-docs.js"></script>
</body>
</html>
"""
# validatorUrl null: the stock page would send the document to an online validator.
START = """window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  persistAuthorization: true,
  deepLinking: true
});
"""


async def docs_page(_request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


def add_docs_routes(app: web.Application) -> None:
    """The assets are read once here (about 1.5 MB), so no request waits on the disk."""
    files = {name: (swagger_ui_path / name).read_bytes() for name in ASSETS}
    files["cliptrail-docs.js"] = START.encode()

    async def docs_asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["asset"]
        if name not in files:
            return problem(404, "Not Found", "No such file.")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return web.Response(body=files[name], content_type=content_type, headers=_CACHE)

    app.router.add_get("/docs", docs_page)
    app.router.add_get("/docs/{asset}", docs_asset)


_CACHE = {"Cache-Control": "public, max-age=86400"}
