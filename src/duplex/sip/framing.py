"""Stream (TCP/TLS/WebSocket-less) framing of SIP messages, sans-IO.

Feed bytes with `StreamFramer.receive_data`, pull complete messages with `StreamFramer.next_message` (None
means "need more data"). RFC 3261 §18.3: "In the case of stream-oriented transports such as TCP, the
Content-Length header field indicates the size of the body. All implementations MUST use Content-Length
with stream oriented transports". RFC 3261 §7.5: "Implementations processing SIP messages over
stream-oriented transports MUST ignore any CRLF appearing before the start-line". RFC 5626 §3.5.1: a
double-CRLF ping is answered with a single CRLF pong; `pongs_to_send` counts them.

Errors: framing errors (missing/bad Content-Length, message too large) are fatal and sticky - every later
call raises the same error and the connection should be closed. A message that frames correctly but fails
validation raises `SipParseError` once and is consumed, so the stream continues with the next message.
"""

from __future__ import annotations

from duplex.sip.errors import SipParseError
from duplex.sip.headers import Headers
from duplex.sip.message import SipMessage, build_message, parse_head, split_head

__all__ = ["MAX_STREAM_MESSAGE_SIZE", "StreamFramer"]

MAX_STREAM_MESSAGE_SIZE = 1 << 20
_PING = b"\r\n\r\n"
_PONG = b"\r\n"


class StreamFramer:
    """Split a byte stream into SIP messages using Content-Length framing."""

    def __init__(
        self, *, max_message_size: int = MAX_STREAM_MESSAGE_SIZE, max_headers: int | None = None
    ) -> None:
        self._buffer = bytearray()
        self._max = max_message_size
        self._max_headers = max_headers  # lines in a message head; None: no limit
        self._error: SipParseError | None = None
        self._pongs = 0
        self._pings_seen = 0
        self._pongs_seen = 0

    @property
    def pongs_to_send(self) -> int:
        """How many CRLF pongs are owed for double-CRLF pings received (reset by `data_to_send`)."""
        return self._pongs

    @property
    def pings_received(self) -> int:
        """Total RFC 5626 double-CRLF pings seen."""
        return self._pings_seen

    @property
    def pongs_received(self) -> int:
        """Total lone CRLFs (RFC 5626 pongs / stray keep-alives) seen between messages."""
        return self._pongs_seen

    @property
    def buffered(self) -> int:
        """Number of bytes received but not yet consumed."""
        return len(self._buffer)

    def data_to_send(self) -> bytes:
        """The CRLF pongs to write back to the peer; clears the counter."""
        out, self._pongs = _PONG * self._pongs, 0
        return out

    def receive_data(self, data: bytes) -> None:
        """Append received bytes. An empty ``data`` is ignored (EOF is handled by the caller)."""
        self._buffer += data

    def _fail(self, reason: str, status: int = 400) -> SipParseError:
        self._error = SipParseError(reason, status)
        return self._error

    def _skip_keepalives(self) -> bool:
        """Consume leading CRLF keep-alives. Returns False when more data is needed to decide."""
        buf = self._buffer
        while bytes(buf[:1]) in (b"\r", b"\n"):
            if buf.startswith(_PING):
                del buf[:4]
                self._pongs += 1
                self._pings_seen += 1
            elif buf.startswith(b"\r\n") and len(buf) >= 3 and buf[2:3] != b"\r":
                del buf[:2]
                self._pongs_seen += 1
            elif buf.startswith(b"\n"):
                del buf[:1]
            elif len(buf) < 4 and _PING.startswith(bytes(buf)):
                return False  # "\r", "\r\n" or "\r\n\r": could still become a ping
            else:
                raise self._fail(f"stray bytes {bytes(buf[:4])!r} before start-line")
        return True

    def next_message(self) -> SipMessage | None:
        """Return the next complete message, or None if more data is needed.

        Raises:
            SipParseError: 400 for a missing/invalid Content-Length or a malformed message,
                513 when a message exceeds ``max_message_size``.
        """
        if self._error is not None:
            raise self._error
        if not self._skip_keepalives() or not self._buffer:
            return None
        parts = split_head(bytes(self._buffer))
        if parts is None:
            if len(self._buffer) > self._max:
                raise self._fail("message head exceeds the size limit", 513)
            return None
        head, rest = parts
        if self._max_headers is not None and head.count(b"\n") > self._max_headers:
            raise self._fail(f"message head has more than {self._max_headers} lines", 513)
        head_len = len(self._buffer) - len(rest)
        try:
            length = Headers(parse_head(head)[1]).content_length()
        except SipParseError as exc:
            raise self._fail(f"cannot frame message: {exc.reason}") from exc
        if length is None:
            raise self._fail("Content-Length is mandatory on stream transports (RFC 3261 §18.3)")
        if head_len + length > self._max:
            raise self._fail(f"message of {head_len + length} bytes exceeds {self._max}", 513)
        if len(rest) < length:
            return None
        del self._buffer[: head_len + length]
        return build_message(head, rest[:length])
