"""The ASGI application factory.

Route modules each expose `router`; they are listed in ROUTERS and mounted under /api/v1. The app keeps
its shared objects on `app.state` (settings, engine, session factory, event record).
"""

from __future__ import annotations

from fastapi import FastAPI

from duplex import __version__
from duplex.config import Settings
from duplex.db.base import make_engine, make_session_factory


def create_app(settings: Settings) -> FastAPI:
    settings.ensure_data_dir()
    app = FastAPI(
        title="Duplex",
        version=__version__,
        description="Blended inbound + outbound contact center API.",
        openapi_url="/openapi.json",
        docs_url="/docs",
    )
    engine = make_engine(settings.effective_database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_session_factory(engine)
    return app
