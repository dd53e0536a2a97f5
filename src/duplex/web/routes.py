"""Serves the browser console at / and its assets at /static.

The console is static: index.html, CSS and native ES modules under static/js (no build step), plus the
browser libraries (JsSIP) that `npm ci && npm run build` bundles into static/vendor. Without that bundle the
console still works and says the softphone is unavailable; nothing is ever loaded from the internet.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from duplex.api.routing import DuplexRoute

MOUNT_AT_ROOT = True
STATIC = (Path(__file__).parent / "static").resolve()
VENDOR_BUNDLE = STATIC / "vendor" / "duplex-vendor.js"

# Module scripts must be served as JavaScript or browsers refuse to run them.
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}

router = APIRouter(include_in_schema=False, route_class=DuplexRoute)  # a NUL in {name} is a 422


@router.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/static/{name:path}")
def asset(name: str) -> FileResponse:
    path = (STATIC / name).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file():
        raise HTTPException(404, "no such asset")
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix), headers={"Cache-Control": "no-cache"})


def vendor_bundle_built() -> bool:
    return VENDOR_BUNDLE.is_file()
