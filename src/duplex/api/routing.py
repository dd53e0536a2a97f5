"""The route class every Duplex router uses: request metrics by route template, and no crash on a bug.

`APIRouter(route_class=DuplexRoute)`. An unexpected exception inside a route becomes an HTTPException(500)
with a JSON body; because it is raised (not swallowed), the request's transaction still rolls back.
A database constraint error that escaped `db.flush` becomes 409/422 the same way, a data error (a value
out of the column's range) 422. Before FastAPI sees a request, its path and query parameters and its JSON
body pass the checks of validation.py (422 naming the field).
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
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from duplex.api.db import integrity_http_error
from duplex.api.validation import StrictRequest, integer_parameters, parameter_errors

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


def _first_line(exc: DataError) -> str:
    lines = str(exc.orig).strip().splitlines()
    return lines[0] if lines else "data error"


def mounted_template(path: str, template: str) -> str:
    """The route template with the prefix it is mounted under ("/api/v1" + "/agents/{agent_id}"): each
    path parameter matches one segment, so the prefix is the path minus the template's segment count."""
    segments = path.rstrip("/").split("/")
    depth = template.strip("/").count("/") + 1
    return "/".join(segments[: max(len(segments) - depth, 0)]) + template


def _is_json(content_type: str | None) -> bool:
    """FastAPI parses a body as JSON when it has no content type or a JSON one."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class DuplexRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        integers = integer_parameters(self.dependant)

        async def check_input(request: StrictRequest) -> None:
            """Refuse what the database cannot hold before FastAPI converts it (see validation.py). The
            body is parsed here, not inside FastAPI, which turns any other error of its own parse into a
            400 that names no field."""
            errors = parameter_errors(
                request.path_params.items(), request.query_params.multi_items(), integers
            )
            if errors:
                raise RequestValidationError(errors)
            if self.body_field is not None and _is_json(request.headers.get("content-type")):
                if await request.body():
                    await request.json()

        async def timed_handler(request: Request) -> Response:
            route = mounted_template(request.url.path, self.path_format)
            started = time.perf_counter()
            status = 500
            try:
                request = StrictRequest(request.scope, request.receive)
                await check_input(request)
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
            except DataError as exc:
                # A value the validation layer let through but the database refused (SQLSTATE class 22):
                # the client's data, not a server fault.
                status = 422
                raise HTTPException(422, f"a value does not fit the database: {_first_line(exc)}") from exc
            except Exception as exc:
                if isinstance(exc, _PASS_THROUGH):
                    raise
                log.exception("unhandled error in %s %s", request.method, route)
                raise HTTPException(500, "internal server error") from exc
            finally:
                LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
                REQUESTS.labels(request.method, route, str(status)).inc()

        return timed_handler
