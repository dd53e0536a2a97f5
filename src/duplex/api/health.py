"""GET /api/v1/health: no authentication, so load balancers and `make run` can poll it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from duplex import __version__
from duplex.api.routing import DuplexRoute

router = APIRouter(route_class=DuplexRoute)


def _database_ok(request: Request) -> tuple[bool, str]:
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not reachable"; report it, never raise
        return False, type(exc).__name__
    return True, "ok"


@router.get("/health", tags=["system"])
async def health(request: Request) -> JSONResponse:
    """Database reachability (SELECT 1), SIP engine status (as the engine reports it), version.
    200 when the database answers, 503 when it does not."""
    db_ok, db_detail = await run_in_threadpool(_database_ok, request)
    sip: Any = getattr(request.app.state, "sip_status", None)
    body = {
        "status": "ok" if db_ok else "degraded",
        "version": __version__,
        "database": {"ok": db_ok, "detail": db_detail, "dialect": request.app.state.engine.dialect.name},
        "sip": sip if sip is not None else "disabled",
        "node_id": request.app.state.settings.node_id,
    }
    return JSONResponse(body, status_code=200 if db_ok else 503)
