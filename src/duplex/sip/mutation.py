"""A seeded SIP mutation fuzzer, sans-IO: well-formed requests and responses, then damaged the ways scanners
and broken peers damage them. Used by the hostile-input tests and ``bench/fuzz.py``.

Each message starts from a template (INVITE with SDP, OPTIONS, REGISTER, BYE, CANCEL, ACK, INFO, a 200
response) with fresh Call-ID, branch and tags, and gets one to three mutations: bit flips, truncation, a huge
header, a header line repeated thousands of times, folded header lines, bytes that are not UTF-8, NUL, a bad
Content-Length, odd SDP (IPv6 or garbage connection address, bad ports, many media lines), an empty or
non-token tag, a Contact that is not a SIP URI, a missing mandatory header. The same seed gives the same
messages.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["MUTATIONS", "SipMutator"]

_SDP = (
    "v=0\r\no=- {sid} 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
    "m=audio {rtp} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
)
_METHODS = ("INVITE", "OPTIONS", "REGISTER", "BYE", "CANCEL", "ACK", "INFO", "RESPONSE")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Target:
    host: str
    port: int
    transport: str
    source_port: int


class SipMutator:
    """Generates mutated SIP messages for ``target_host:target_port``.

    Args:
        rng: the only randomness (seed it for a reproducible run).
        target_host, target_port: where the messages go (Request-URI host).
        transport: the Via transport written (UDP or TCP).
        source_port: the sender's port written in Via and Contact.
        users: Request-URI users to pick from (an unknown one gets 404, a demo number reaches media).
    """

    def __init__(self, rng: random.Random, *, target_host: str, target_port: int, transport: str = "UDP",
                 source_port: int = 5999, users: tuple[str, ...] = ("9999", "1001", "alice")) -> None:  # fmt: skip
        self.rng = rng
        self.target = _Target(
            host=target_host, port=target_port, transport=transport, source_port=source_port
        )
        self.users = users
        self.counter = 0

    def messages(self, count: int) -> Iterator[tuple[str, bytes]]:
        """``count`` (mutation names, message) pairs."""
        for _ in range(count):
            yield self.next()

    def next(self) -> tuple[str, bytes]:
        self.counter += 1
        data = self.template(self.rng.choice(_METHODS))
        names = []
        for _ in range(self.rng.choice((1, 1, 1, 2, 3))):
            if len(data) < 2:
                break  # truncated to (almost) nothing: nothing left to damage
            name = self.rng.choice(tuple(MUTATIONS))
            data = MUTATIONS[name](self.rng, data)
            names.append(name)
        return "+".join(names), data

    def template(self, method: str) -> bytes:
        """A well-formed message: ``method`` is a request method or ``RESPONSE`` (a 200 to an INVITE)."""
        t, rng, n = self.target, self.rng, self.counter
        tag, branch, call_id = (
            f"f{rng.getrandbits(32):x}",
            f"z9hG4bK{rng.getrandbits(48):x}",
            f"fz{n}x{rng.getrandbits(32):x}",
        )
        user = rng.choice(self.users)
        via = f"SIP/2.0/{t.transport} 127.0.0.1:{t.source_port};branch={branch};rport"
        body = ""
        if method == "RESPONSE":
            start, cseq = "SIP/2.0 200 OK", "1 INVITE"
        else:
            start, cseq = f"{method} sip:{user}@{t.host}:{t.port} SIP/2.0", f"{rng.randint(1, 99)} {method}"
        to = f"<sip:{user}@{t.host}>" + (";tag=t1" if method in ("BYE", "INFO", "RESPONSE") else "")
        lines = [start, f"Via: {via}", "Max-Forwards: 70", f'From: "Fuzz" <sip:fuzz@127.0.0.1>;tag={tag}',
                 f"To: {to}", f"Call-ID: {call_id}", f"CSeq: {cseq}",
                 f"Contact: <sip:fuzz@127.0.0.1:{t.source_port}>", "User-Agent: duplex-fuzz"]  # fmt: skip
        if method in ("INVITE", "RESPONSE"):
            body = _SDP.format(sid=n, host="127.0.0.1", rtp=20000 + 2 * (n % 1000))
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


# -- mutations -------------------------------------------------------------------------------------------
Mutation = Callable[[random.Random, bytes], bytes]


def _split(data: bytes) -> tuple[list[bytes], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


def _join(lines: list[bytes], body: bytes) -> bytes:
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _bit_flips(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def _huge_header(rng: random.Random, data: bytes) -> bytes:
    lines, body = _split(data)
    size = rng.choice((1_000, 8_000, 30_000, 60_000))
    lines.insert(rng.randint(1, len(lines)), b"X-Huge: " + b"A" * size)
    return _join(lines, body)


def _duplicate_header(rng: random.Random, data: bytes) -> bytes:
    lines, body = _split(data)
    if len(lines) < 2:
        return data
    line = lines[rng.randrange(1, len(lines))]
    times = min(
        rng.choice((2, 50, 1_000, 6_000)), max(2, 70_000 // (len(line) + 2))
    )  # stays about a datagram
    return _join(lines + [line] * times, body)


def _fold(rng: random.Random, data: bytes) -> bytes:
    lines, body = _split(data)
    i = rng.randrange(len(lines))
    line = lines[i]
    cut = rng.randrange(len(line) + 1)
    lines[i] = line[:cut] + rng.choice((b"\r\n ", b"\r\n\t", b"\n ", b"\r\n")) + line[cut:]
    return _join(lines, body)


def _non_utf8(rng: random.Random, data: bytes) -> bytes:
    junk = bytes(rng.randint(0x80, 0xFF) for _ in range(rng.randint(1, 4)))
    for anchor in (b"sip:fuzz", b'"Fuzz', b"duplex-fuzz"):
        if anchor in data and rng.random() < 0.6:
            at = data.index(anchor) + len(anchor) - 1
            return data[:at] + junk + data[at:]
    i = rng.randrange(len(data))
    return data[:i] + junk + data[i:]


def _nul(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data))
    return data[:i] + b"\x00" + data[i:]


def _content_length(rng: random.Random, data: bytes) -> bytes:
    lines, body = _split(data)
    value = rng.choice((b"-1", b"99999999", b"abc", b"", b"1e3", str(len(body) + 7).encode(), b"0", b"3 4"))
    lines = [b"Content-Length: " + value if line.startswith(b"Content-Length") else line for line in lines]
    return _join(lines, body)


_ODD_SDP = (
    b"c=IN IP6 ::1",
    b"c=IN IP4 999.1.2.3",
    b"c=IN IP4 not-an-address",
    b"c=IN IP4",
    b"c=XX YY ZZ",
    b"m=audio -5 RTP/AVP 0",
    b"m=audio 99999999999 RTP/AVP 0",
    b"m=audio 4000 RTP/AVP",
    b"a=rtpmap:0",
    b"o=",
    b"v=7",
)


def _odd_sdp(rng: random.Random, data: bytes) -> bytes:
    lines, body = _split(data)
    if not body:
        body = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
        lines.insert(len(lines) - 1, b"Content-Type: application/sdp")
    sdp = body.split(b"\r\n")
    choice = rng.randrange(4)
    if choice == 0:
        sdp[rng.randrange(len(sdp))] = rng.choice(_ODD_SDP)
    elif choice == 1:
        sdp = [b"c=IN IP6 ::1" if line.startswith(b"c=") else line for line in sdp]
    elif choice == 2:
        sdp = [line for line in sdp if not line.startswith(b"c=")]
    else:
        sdp += [b"m=audio 4000 RTP/AVP 0"] * rng.choice((10, 500))
    body = b"\r\n".join(sdp)
    lines = [
        b"Content-Length: %d" % len(body) if line.startswith(b"Content-Length") else line for line in lines
    ]
    return _join(lines, body)


def _bad_tag(rng: random.Random, data: bytes) -> bytes:
    tag = rng.choice((b";tag=", b";tag", b';tag="x"', b";tag=a b", b";tag=\xe9"))
    lines, body = _split(data)
    lines = [(line.split(b";tag=")[0] + tag) if line.startswith(b"From:") else line for line in lines]
    return _join(lines, body)


def _bad_contact(rng: random.Random, data: bytes) -> bytes:
    value = rng.choice(
        (b"<mailto:x@y>", b"<tel:+15551234>", b"<http://x>", b"*", b"<sip:>", b"<>", b"<sip:a@b>, <sip:c@d>")
    )
    lines, body = _split(data)
    lines = [b"Contact: " + value if line.startswith(b"Contact") else line for line in lines]
    return _join(lines, body)


def _drop_header(rng: random.Random, data: bytes) -> bytes:
    lines, body = _split(data)
    if len(lines) > 1:
        del lines[rng.randrange(1, len(lines))]
    return _join(lines, body)


MUTATIONS: dict[str, Mutation] = {
    "bit_flips": _bit_flips,
    "truncate": _truncate,
    "huge_header": _huge_header,
    "duplicate_header": _duplicate_header,
    "fold": _fold,
    "non_utf8": _non_utf8,
    "nul": _nul,
    "content_length": _content_length,
    "odd_sdp": _odd_sdp,
    "bad_tag": _bad_tag,
    "bad_contact": _bad_contact,
    "drop_header": _drop_header,
}
