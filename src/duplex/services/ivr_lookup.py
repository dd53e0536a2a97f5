"""Carries out the IVR's `HttpLookup` commands: an HTTP GET with a total deadline, answered as a `LookupResult`.

Outside `duplex.ivr` because it does network I/O. Every failure (timeout, refused connection, an error status,
a body that is not JSON or too large) still becomes a `LookupResult`, so the flow takes its `on_error` branch
instead of the call getting stuck.
"""

from __future__ import annotations

import asyncio
import json

import httpx

from duplex.ivr.events import HttpLookup, LookupResult

__all__ = ["MAX_BODY_BYTES", "run_lookup"]

MAX_BODY_BYTES = 256 * 1024  # a CRM answer for one caller; anything larger is not what the flow asked for


async def run_lookup(request: HttpLookup, client: httpx.AsyncClient) -> LookupResult:
    """GET `request.url` and decode its JSON body, all within `request.timeout_seconds`."""
    try:
        return await asyncio.wait_for(_get(request, client), timeout=request.timeout_seconds)
    except TimeoutError:
        return LookupResult(request_id=request.request_id, error="timeout")
    except httpx.HTTPError as exc:
        return LookupResult(request_id=request.request_id, error=f"{type(exc).__name__}: {exc}")


async def _get(request: HttpLookup, client: httpx.AsyncClient) -> LookupResult:
    headers = {"Accept": "application/json"}
    async with client.stream("GET", request.url, headers=headers, follow_redirects=False) as response:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return LookupResult(
                    request_id=request.request_id, status=response.status_code, error="body too large"
                )
    try:
        document = json.loads(body) if body else None
    except ValueError:
        return LookupResult(
            request_id=request.request_id, status=response.status_code, error="body is not JSON"
        )
    return LookupResult(request_id=request.request_id, status=response.status_code, body=document)
