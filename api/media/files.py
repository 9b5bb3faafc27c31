"""GET /media/{sha256}/{variant}: immutable, content-addressed files for phones and caches."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from api.services import Services
from media.storage import media_key
from media.urls import signature_valid
from models.media import Media

SHA_RE = re.compile(r"^[0-9a-f]{64}$")
TYPES = {
    "original.jpg": "image/jpeg",
    "original.pdf": "application/pdf",
    "thumb.webp": "image/webp",
    "medium.webp": "image/webp",
}
YEAR = 365 * 24 * 3600


async def serve_summary(request: Request) -> Response:
    """GET /summaries/{sha256}.png: published months' pictures, immutable by name."""
    name = request.path_params["name"]
    if not (name.endswith(".png") and SHA_RE.match(name[:-4])):
        return Response(status_code=404)
    services: Services = request.app.state.services
    path = services.media.storage.local_path(f"summaries/{name}")
    if path is None or not path.is_file():
        return Response(status_code=404)
    headers = {
        "etag": f'"{name[:32]}"',
        "cache-control": f"public, max-age={YEAR}, immutable",
        "x-content-type-options": "nosniff",
    }
    return FileResponse(path, media_type="image/png", headers=headers)


async def serve_media(request: Request) -> Response:
    sha, variant = request.path_params["sha256"], request.path_params["variant"]
    if not SHA_RE.match(sha) or variant not in TYPES:
        return Response(status_code=404)
    rows = await Media.filter(sha256=sha).values_list("restricted", "attached_at")
    if not rows:
        return Response(status_code=404)
    services: Services = request.app.state.services
    # Public only when no row holding these bytes is an unredacted original and one of them
    # is attached to something published; otherwise a signed URL is needed.
    public = not any(r for r, _ in rows) and any(a is not None for _, a in rows)
    if not public:
        params = request.query_params
        if not signature_valid(
            services.settings.secret_key, sha, variant, params.get("exp", ""), params.get("sig", "")
        ):
            return Response(status_code=404)  # do not confirm that a restricted file exists
    path = services.media.storage.local_path(media_key(sha, variant))
    if path is None or not path.is_file():
        return Response(status_code=404)
    etag = f'"{sha[:32]}-{variant}"'
    headers = {
        "etag": etag,
        "cache-control": f"public, max-age={YEAR}, immutable"
        if public
        else "private, max-age=3600",
        "x-content-type-options": "nosniff",
    }
    if variant.endswith(".pdf"):
        headers["content-disposition"] = f'attachment; filename="{sha[:16]}.pdf"'
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=TYPES[variant], headers=headers)
