"""Serves the web UI at / and its assets at /static."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from duplex.api.routing import DuplexRoute

MOUNT_AT_ROOT = True
STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False, route_class=DuplexRoute)  # a NUL in {name} is a 422


@router.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/static/{name}", response_model=None)
def asset(name: str) -> FileResponse | RedirectResponse:
    path = (STATIC / name).resolve()
    if path.parent != STATIC.resolve() or not path.is_file():
        return RedirectResponse("/")
    return FileResponse(path)
