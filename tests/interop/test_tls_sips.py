"""A call for a sips: Request-URI over TLS (Python ssl client): Duplex's Contact in its provisional and 200
responses is a sips: URI (RFC 3261 §8.1.1.8, §12.1.1), and the dialog works with it (ACK, BYE)."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from duplex.sip import SipResponse, parse_message
from duplex.sip.uri import NameAddr, SipUri
from interop.conftest import RunningEngine
from interop.test_tls import tls_engine

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

__all__ = ["tls_engine"]

_SDP = ("v=0\r\no=probe 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")  # fmt: skip


def _request(method: str, uri: str, *, cseq: int, branch: str, to_tag: str = "", body: str = "") -> bytes:
    to = "<sips:1001@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    extra = "Content-Type: application/sdp\r\n" if body else ""
    return (f"{method} {uri} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-{branch};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sips:probe@127.0.0.1>;tag=p1\r\nTo: {to}\r\nCall-ID: sips-call@127.0.0.1\r\n"
            f"CSeq: {cseq} {method}\r\nContact: <sips:probe@127.0.0.1:5999>\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n{body}").encode()  # fmt: skip


async def _read_response(reader: asyncio.StreamReader) -> SipResponse:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
    body = await asyncio.wait_for(reader.readexactly(length), 5) if length else b""
    response = parse_message(head + body)
    assert isinstance(response, SipResponse)
    return response


def _contact_scheme(response: SipResponse) -> str:
    uri = NameAddr.parse(response.headers.required("Contact")).uri
    assert isinstance(uri, SipUri)
    return uri.scheme


async def test_invite_for_a_sips_uri_gets_a_sips_contact(tls_engine: RunningEngine) -> None:
    engine = tls_engine.engine
    port = engine.transport.tls_port
    context = ssl.create_default_context(cafile=str(tls_engine.settings.data_dir / "tls" / "sip-tls.crt"))
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
    )
    try:
        writer.write(_request("INVITE", "sips:1001@127.0.0.1", cseq=1, branch="inv", body=_SDP))
        responses = [await _read_response(reader)]
        while responses[-1].status < 200:
            responses.append(await _read_response(reader))
        final = responses[-1]
        assert final.status == 200, [r.status for r in responses]
        with_contact = [r for r in responses if r.status > 100]
        assert with_contact and all(_contact_scheme(r) == "sips" for r in with_contact), with_contact
        target = str(NameAddr.parse(final.headers.required("Contact")).uri)
        assert target == f"sips:duplex@127.0.0.1:{port}"  # no ;transport=tls: sips implies TLS
        to_tag = final.to_tag or ""
        writer.write(_request("ACK", target, cseq=1, branch="ack", to_tag=to_tag))
        writer.write(_request("BYE", target, cseq=2, branch="bye", to_tag=to_tag))
        bye = await _read_response(reader)
        assert bye.status == 200 and bye.cseq.method == "BYE"
    finally:
        writer.close()
        await writer.wait_closed()
