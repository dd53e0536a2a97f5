"""HTTP lookups of a flow against a real HTTP server on 127.0.0.1, fed back into the interpreter."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from flowkit import CALLER, MONDAY_10, entered, flow, run, say

from duplex.ivr import HttpLookup, LookupResult
from duplex.services.ivr_lookup import MAX_BODY_BYTES, run_lookup

seen_paths: list[str] = []


class Crm(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        seen_paths.append(self.path)
        if self.path.startswith("/slow"):
            time.sleep(1.5)
        status, body = {
            "/customers?phone=%2B40721000001": (
                200,
                json.dumps({"customer": {"tier": "gold", "name": "Ana"}}),
            ),
            "/missing": (404, json.dumps({"error": "no such customer"})),
            "/text": (200, "hello"),
            "/big": (200, json.dumps({"pad": "x" * (MAX_BODY_BYTES + 10)})),
        }.get(self.path, (200, "{}"))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout, body too large): what those tests want

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def crm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Crm)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def lookup(url: str, timeout: float = 1.0) -> LookupResult:
    async with httpx.AsyncClient() as client:
        return await run_lookup(HttpLookup(request_id="n#1", url=url, timeout_seconds=timeout), client)


async def test_a_lookup_drives_the_flow_to_next_with_variables(crm: str) -> None:
    definition = flow(
        {
            "l": {"type": "lookup", "url": crm + "/customers?phone=${caller_id}", "map": {"tier": "customer.tier"},
                  "next": "known", "on_error": "unknown"},
            "known": say("Hello ${tier} customer"),
            "unknown": say("Hello"),
            "bye": {"type": "hangup"},
        }
    )  # fmt: skip
    r, out = run(definition)
    request = next(o for o in out if isinstance(o, HttpLookup))
    async with httpx.AsyncClient() as client:
        result = await run_lookup(request, client)
    assert seen_paths[-1] == "/customers?phone=%2B40721000001" and CALLER.startswith("+")
    assert result == LookupResult(
        request_id="l#1", status=200, body={"customer": {"tier": "gold", "name": "Ana"}}
    )
    assert entered(r.handle(result, MONDAY_10 + 1)) == ["known"] and r.variables["tier"] == "gold"


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [("/missing", 404, None), ("/text", 200, "body is not JSON"), ("/big", 200, "body too large")],
)
async def test_failed_lookups_are_results_not_exceptions(
    crm: str, path: str, status: int, error: str | None
) -> None:
    result = await lookup(crm + path)
    assert (result.status, result.error, result.ok) == (status, error, False)


async def test_a_slow_server_times_out_within_the_deadline(crm: str) -> None:
    started = time.monotonic()
    result = await lookup(crm + "/slow", timeout=0.3)
    assert result.error == "timeout" and time.monotonic() - started < 1.2


async def test_a_refused_connection_is_an_error_result() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Crm)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    result = await lookup(f"http://127.0.0.1:{port}/customers")
    assert result.status is None and result.error is not None and result.error.startswith("ConnectError")
