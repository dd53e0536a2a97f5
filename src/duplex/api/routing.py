"""The route class every Duplex router uses: request metrics by route template, and no crash on a bug.

`APIRouter(route_class=DuplexRoute)`. An unexpected exception inside a route becomes an HTTPException(500)
with a JSON body; because it is raised (not swallowed), the request's transaction still rolls back.
A database constraint error that escaped `db.flush` becomes 409/422 the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from fastapi.routing import APIRoute
from prometheus_client import Counter, Histogram
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from duplex.api.db import integrity_http_error

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "duplex_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "duplex_http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "route"],
)

_PASS_THROUGH = (StarletteHTTPException, RequestValidationError, WebSocketRequestValidationError)


def mounted_template(path: str, template: str) -> str:
    """The route template with the prefix it is mounted under ("/api/v1" + "/agents/{agent_id}"): each
    path parameter matches one segment, so the prefix is the path minus the template's segment count."""
    segments = path.rstrip("/").split("/")
    depth = template.strip("/").count("/") + 1
    return "/".join(segments[: max(len(segments) - depth, 0)]) + template


class DuplexRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def timed_handler(request: Request) -> Response:
            route = mounted_template(request.url.path, self.path_format)
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status_code
                return response
            except StarletteHTTPException as exc:
                status = exc.status_code
                raise
            except RequestValidationError:
                status = 422
                raise
            except IntegrityError as exc:
                mapped = integrity_http_error(exc)
                status = mapped.status_code
                raise mapped from exc
            except Exception as exc:
                if isinstance(exc, _PASS_THROUGH):
                    raise
                log.exception("unhandled error in %s %s", request.method, route)
                raise HTTPException(500, "internal server error") from exc
            finally:
                LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
                REQUESTS.labels(request.method, route, str(status)).inc()

        return timed_handler
