"""A real HTTP receiver on 127.0.0.1 that verifies signatures the way the docs tell integrators to."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers `fail_first` requests with `fail_status`, then 200; a bad signature gets 401 and is never
    counted as a success."""

    secret: str = "receiver-secret-0123456789"
    fail_first: int = 0
    fail_status: int = 500
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        # The recipe from duplex.webhooks.signing, written out independently.
        timestamp = headers.get("x-duplex-timestamp", "")
        message = timestamp.encode() + b"." + body
        expected = "sha256=" + hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        return fresh and hmac.compare_digest(expected, headers.get("x-duplex-signature", ""))

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        ok = self.verify(headers, body)
        with self.lock:
            self.requests.append(Received(time.monotonic(), headers, body, ok))
            if not ok:
                return 401
            failed_so_far = sum(1 for r in self.requests if r.signature_ok) - 1
            return self.fail_status if failed_so_far < self.fail_first else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = rec.handle({k.lower(): v for k, v in self.headers.items()}, body)
            payload = b"nope" if status >= 300 else b"ok"
            self.send_response(status)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()
