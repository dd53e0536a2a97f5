"""The rtpengine *ng* control protocol as a sans-IO codec: bencode, cookie-matched messages, retransmission.

From rtpengine's docs/ng_control_protocol.md: "Each message passed between the SIP proxy and the media proxy
contains of two parts: a unique message cookie and a dictionary document, separated by a single space. The
message cookie is used to match requests to responses and to detect retransmissions." A ping and its reply
on the wire::

    5323_1 d7:command4:pinge
    5323_1 d6:result4:ponge

``NgConnection`` owns the cookies, the retransmission schedule and the timeouts; it never touches a socket or
a clock (``now`` is an argument, timers go through ``get_timer``/``handle_timer``). Retransmissions reuse the
cookie, so the daemon answers a duplicate from its cache instead of running the command twice. The asyncio
shell is ``duplex.services.media.rtpengine_client``; the command builders below return plain request dictionaries.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

__all__ = [
    "BencodeError",
    "NgCommandError",
    "NgConnection",
    "NgError",
    "NgFailed",
    "NgReplied",
    "NgRequest",
    "NgResponse",
    "NgRetryPolicy",
    "NgTimeout",
    "answer",
    "bdecode",
    "bencode",
    "block_media",
    "delete",
    "offer",
    "ping",
    "play_dtmf",
    "play_media",
    "query",
    "start_recording",
    "stop_media",
    "stop_recording",
    "unblock_media",
]

Bencodable = int | str | bytes | list[Any] | tuple[Any, ...] | Mapping[str, Any]


class NgError(Exception):
    """Base of every ng control failure."""


class BencodeError(NgError):
    """A datagram that is not valid bencode (dropped and counted by ``NgConnection``)."""


class NgCommandError(NgError):
    """The daemon answered ``result: error``; ``reason`` is its ``error-reason``."""

    def __init__(self, command: str, reason: str) -> None:
        super().__init__(f"rtpengine {command!r} failed: {reason}")
        self.command = command
        self.reason = reason


class NgTimeout(NgError, TimeoutError):
    """No reply after every retransmission."""


# -- bencode ---------------------------------------------------------------------------------------------


def bencode(value: Bencodable) -> bytes:
    """Encode ``value`` (str is UTF-8; dictionary keys are sorted, as bencode requires).

    Raises:
        TypeError: a value bencode cannot carry (float, None, bool).
    """
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: Any, out: list[bytes]) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise TypeError(f"bencode cannot encode {type(value).__name__}")
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, str | bytes):
        raw = value.encode() if isinstance(value, str) else value
        out.append(b"%d:%s" % (len(raw), raw))
    elif isinstance(value, list | tuple):
        out.append(b"l")
        for item in value:
            _encode(item, out)
        out.append(b"e")
    elif isinstance(value, Mapping):
        out.append(b"d")
        for key in sorted(value, key=lambda k: k.encode() if isinstance(k, str) else k):
            _encode(key, out)
            _encode(value[key], out)
        out.append(b"e")
    else:
        raise TypeError(f"bencode cannot encode {type(value).__name__}")


def bdecode(data: bytes) -> Any:
    """Decode one bencoded value; strings come back as ``str`` (UTF-8, invalid bytes replaced).

    Raises:
        BencodeError: malformed, truncated or followed by trailing bytes.
    """
    value, end = _decode(data, 0)
    if end != len(data):
        raise BencodeError(f"trailing data after bencoded value at offset {end}")
    return value


def _decode(data: bytes, i: int) -> tuple[Any, int]:
    if i >= len(data):
        raise BencodeError("truncated bencode")
    lead = data[i : i + 1]
    if lead == b"i":
        end = data.find(b"e", i)
        if end < 0:
            raise BencodeError("truncated integer")
        try:
            return int(data[i + 1 : end]), end + 1
        except ValueError:
            raise BencodeError(f"bad integer {data[i + 1 : end]!r}") from None
    if lead in (b"l", b"d"):
        return _decode_container(data, i + 1, lead == b"d")
    if lead.isdigit():
        colon = data.find(b":", i)
        if colon < 0 or not data[i:colon].isdigit():
            raise BencodeError("bad string length")
        start = colon + 1
        end = start + int(data[i:colon])
        if end > len(data):
            raise BencodeError("truncated string")
        return data[start:end].decode(errors="replace"), end
    raise BencodeError(f"unexpected byte {lead!r} at offset {i}")


def _decode_container(data: bytes, i: int, is_dict: bool) -> tuple[Any, int]:
    items: list[Any] = []
    while True:
        if i >= len(data):
            raise BencodeError("truncated list or dictionary")
        if data[i : i + 1] == b"e":
            break
        item, i = _decode(data, i)
        items.append(item)
    if not is_dict:
        return items, i + 1
    if len(items) % 2 or not all(isinstance(k, str) for k in items[::2]):
        raise BencodeError("dictionary keys must be strings, each with a value")
    return dict(zip(items[::2], items[1::2], strict=True)), i + 1


# -- messages --------------------------------------------------------------------------------------------


def _split(data: bytes) -> tuple[str, dict[str, Any]]:
    cookie, sep, body = data.partition(b" ")
    if not sep or not cookie:
        raise BencodeError("ng message without a cookie")
    document = bdecode(body)
    if not isinstance(document, dict):
        raise BencodeError("ng message body is not a dictionary")
    return cookie.decode(errors="replace"), document


@dataclass(frozen=True, slots=True, kw_only=True)
class NgRequest:
    """One request: ``cookie`` plus a dictionary with at least ``command``."""

    cookie: str
    body: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not self.cookie or " " in self.cookie:
            raise ValueError("an ng cookie is a non-empty token without spaces")
        if not isinstance(self.body.get("command"), str):
            raise ValueError("an ng request needs a 'command' string")

    @property
    def command(self) -> str:
        return str(self.body["command"])

    @classmethod
    def parse(cls, data: bytes) -> Self:
        cookie, body = _split(data)
        return cls(cookie=cookie, body=body)

    def __bytes__(self) -> bytes:
        return self.cookie.encode() + b" " + bencode(self.body)


@dataclass(frozen=True, slots=True, kw_only=True)
class NgResponse:
    """One reply: the request's cookie plus a dictionary with ``result`` (ok, error or pong)."""

    cookie: str
    body: Mapping[str, Any]

    @property
    def result(self) -> str:
        return str(self.body.get("result", ""))

    @property
    def ok(self) -> bool:
        return self.result in ("ok", "pong")

    @property
    def error_reason(self) -> str | None:
        reason = self.body.get("error-reason")
        return str(reason) if reason is not None else None

    @property
    def warning(self) -> str | None:
        warning = self.body.get("warning")
        return str(warning) if warning is not None else None

    @classmethod
    def parse(cls, data: bytes) -> Self:
        """Raises:
        BencodeError: no cookie, not bencode, not a dictionary or no ``result`` string."""
        cookie, body = _split(data)
        if not isinstance(body.get("result"), str):
            raise BencodeError("ng reply without a 'result' string")
        return cls(cookie=cookie, body=body)

    def __bytes__(self) -> bytes:
        return self.cookie.encode() + b" " + bencode(self.body)


# -- the connection --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NgRetryPolicy:
    """Retransmit after ``interval`` seconds, doubling up to ``max_interval``, ``retries`` times; then fail."""

    interval: float = 0.5
    max_interval: float = 2.0
    retries: int = 4

    def delays(self) -> list[float]:
        out, delay = [], self.interval
        for _ in range(self.retries + 1):
            out.append(delay)
            delay = min(delay * 2, self.max_interval)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class NgReplied:
    """The reply to the request with this cookie arrived."""

    cookie: str
    request: NgRequest
    response: NgResponse


@dataclass(frozen=True, slots=True, kw_only=True)
class NgFailed:
    """The request with this cookie got no reply after every retransmission."""

    cookie: str
    request: NgRequest


@dataclass(slots=True)
class _Pending:
    request: NgRequest
    data: bytes
    delays: deque[float]
    deadline: float


@dataclass
class NgConnection:
    """Client side of the ng protocol over a datagram transport, sans IO.

    ``send(body, now)`` queues a request and returns its cookie; ``data_to_send(now)`` gives the datagrams
    (first transmissions and retransmissions); ``receive_data(data, now)`` matches a reply by cookie;
    ``next_event()`` yields ``NgReplied``/``NgFailed``. Unknown cookies (late duplicates) and malformed
    datagrams are dropped and counted.
    """

    rng: random.Random
    policy: NgRetryPolicy = field(default_factory=NgRetryPolicy)
    dropped: int = 0
    malformed: int = 0

    def __post_init__(self) -> None:
        self._prefix = f"{self.rng.getrandbits(32):08x}"
        self._counter = 0
        self._pending: dict[str, _Pending] = {}
        self._outgoing: list[bytes] = []
        self._events: deque[NgReplied | NgFailed] = deque()

    def send(self, body: Mapping[str, Any], now: float) -> str:
        """Queue a request; returns its cookie (unique per connection: a random prefix and a counter)."""
        self._counter += 1
        request = NgRequest(cookie=f"{self._prefix}_{self._counter}", body=body)
        data = bytes(request)
        delays = deque(self.policy.delays())
        self._pending[request.cookie] = _Pending(request, data, delays, now + delays.popleft())
        self._outgoing.append(data)
        return request.cookie

    def cancel(self, cookie: str) -> None:
        """Forget a request (its reply, if it comes, is dropped)."""
        self._pending.pop(cookie, None)

    def data_to_send(self) -> list[bytes]:
        out, self._outgoing = self._outgoing, []
        return out

    def receive_data(self, data: bytes, now: float) -> None:
        try:
            response = NgResponse.parse(data)
        except BencodeError:
            self.malformed += 1
            return
        pending = self._pending.pop(response.cookie, None)
        if pending is None:
            self.dropped += 1
            return
        self._events.append(NgReplied(cookie=response.cookie, request=pending.request, response=response))

    def next_event(self) -> NgReplied | NgFailed | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        return min((p.deadline for p in self._pending.values()), default=None)

    def handle_timer(self, now: float) -> None:
        """Retransmit every request whose deadline passed; fail those out of retries."""
        for cookie, pending in list(self._pending.items()):
            if pending.deadline > now:
                continue
            if not pending.delays:
                del self._pending[cookie]
                self._events.append(NgFailed(cookie=cookie, request=pending.request))
                continue
            pending.deadline = now + pending.delays.popleft()
            self._outgoing.append(pending.data)

    @property
    def in_flight(self) -> int:
        return len(self._pending)


# -- command builders (request dictionaries) ---------------------------------------------------------------


def _with(body: dict[str, Any], **optional: Any) -> dict[str, Any]:
    for key, value in optional.items():
        if value is not None and value != ():
            body[key.replace("_", "-")] = list(value) if isinstance(value, tuple) else value
    return body


def ping() -> dict[str, Any]:
    return {"command": "ping"}


def offer(call_id: str, from_tag: str, sdp: str, *, to_tag: str | None = None,
          flags: Iterable[str] = (), replace: Iterable[str] = ()) -> dict[str, Any]:  # fmt: skip
    """``offer``: ``sdp`` is the offerer's (``from_tag``) body; the reply's ``sdp`` is for the other side."""
    body = {"command": "offer", "call-id": call_id, "from-tag": from_tag, "sdp": sdp}
    return _with(body, to_tag=to_tag, flags=tuple(flags), replace=tuple(replace))


def answer(call_id: str, from_tag: str, to_tag: str, sdp: str, *, flags: Iterable[str] = (),
           replace: Iterable[str] = ()) -> dict[str, Any]:  # fmt: skip
    """``answer``: ``sdp`` is the answerer's (``to_tag``) body; the reply's ``sdp`` is for the offerer."""
    body = {"command": "answer", "call-id": call_id, "from-tag": from_tag, "to-tag": to_tag, "sdp": sdp}
    return _with(body, flags=tuple(flags), replace=tuple(replace))


def delete(call_id: str, *, from_tag: str | None = None, to_tag: str | None = None) -> dict[str, Any]:
    return _with({"command": "delete", "call-id": call_id}, from_tag=from_tag, to_tag=to_tag)


def query(call_id: str, *, from_tag: str | None = None) -> dict[str, Any]:
    """``query``: per-tag media, streams (local/remote address, packet counters) and call ``totals``."""
    return _with({"command": "query", "call-id": call_id}, from_tag=from_tag)


def play_media(call_id: str, from_tag: str, *, file: str, repeat_times: int | None = None) -> dict[str, Any]:
    """``play media``: play ``file`` (a path on the daemon's host) to the party ``from_tag`` talks to."""
    body = {"command": "play media", "call-id": call_id, "from-tag": from_tag, "file": file}
    return _with(body, repeat_times=repeat_times)


def stop_media(call_id: str, from_tag: str) -> dict[str, Any]:
    return {"command": "stop media", "call-id": call_id, "from-tag": from_tag}


def block_media(call_id: str, from_tag: str) -> dict[str, Any]:
    """Drop the media rtpengine receives from the monologue ``from_tag`` (it forwards nothing of it)."""
    return {"command": "block media", "call-id": call_id, "from-tag": from_tag}


def unblock_media(call_id: str, from_tag: str) -> dict[str, Any]:
    """Forward the media of ``from_tag`` again after `block_media`."""
    return {"command": "unblock media", "call-id": call_id, "from-tag": from_tag}


def play_dtmf(call_id: str, from_tag: str, *, code: str, duration_ms: int = 100) -> dict[str, Any]:
    """``play DTMF``: inject one event (RFC 4733 or in-band, as negotiated) towards ``from_tag``'s peer."""
    return {"command": "play DTMF", "call-id": call_id, "from-tag": from_tag, "code": code,
            "duration": duration_ms}  # fmt: skip


def start_recording(call_id: str) -> dict[str, Any]:
    return {"command": "start recording", "call-id": call_id}


def stop_recording(call_id: str) -> dict[str, Any]:
    return {"command": "stop recording", "call-id": call_id}
