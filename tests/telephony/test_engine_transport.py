"""The engine's socket shell and out-of-dialog dispatch, with raw UDP/TCP sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest
from engine_fixtures import EngineEnv, UdpClient, engine_env, engine_options, request

from duplex.sip.framing import StreamFramer
from duplex.sip.message import SipResponse

__all__ = ["engine_env", "engine_options"]

pytestmark = pytest.mark.timeout(30)


async def test_options_gets_200_with_allow_and_rport_filled_in(engine_env: EngineEnv) -> None:
    client = UdpClient(engine_env.port)
    client.send(request("OPTIONS", f"sip:127.0.0.1:{engine_env.port}", client.port))
    response = await client.response()
    client.close()
    assert response.status == 200
    assert "INVITE" in (response.headers.get("Allow") or "")
    assert response.headers.get("Accept") == "application/sdp"
    via = response.top_via
    assert via.rport == client.port  # RFC 3581: rport filled in with the source port
    assert via.received == "127.0.0.1"


async def test_malformed_request_with_headers_gets_400(engine_env: EngineEnv) -> None:
    client = UdpClient(engine_env.port)
    bad = request("OPTIONS", f"sip:127.0.0.1:{engine_env.port}", client.port).replace(
        "CSeq: 1 OPTIONS", "CSeq: x OPTIONS"
    )
    client.send(bad)
    data = await client.recv()  # the 400 copies the bad CSeq, so it does not parse either: check the text
    client.close()
    assert data.startswith(b"SIP/2.0 400 ")
    assert b"CSeq: x OPTIONS\r\n" in data and b"Call-ID: c1\r\n" in data
    assert engine_env.engine.transport.stats.malformed_answered == 1


async def test_garbage_is_dropped_and_counted(engine_env: EngineEnv) -> None:
    client = UdpClient(engine_env.port)
    client.send("this is not SIP at all\n\n")
    client.send(request("OPTIONS", f"sip:127.0.0.1:{engine_env.port}", client.port))
    response = await client.response()  # the engine is still alive and the garbage got no answer
    client.close()
    assert response.status == 200
    assert engine_env.engine.transport.stats.malformed_dropped == 1


async def test_options_over_tcp_byte_by_byte(engine_env: EngineEnv) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", engine_env.port)
    port = writer.get_extra_info("sockname")[1]
    data = request("OPTIONS", f"sip:127.0.0.1:{engine_env.port}", port).replace("SIP/2.0/UDP", "SIP/2.0/TCP")
    for byte in data.replace("\n", "\r\n").encode():
        writer.write(bytes([byte]))
    await writer.drain()
    framer = StreamFramer()
    message = None
    while message is None:
        framer.receive_data(await asyncio.wait_for(reader.read(4096), 2))
        message = framer.next_message()
    writer.close()
    assert isinstance(message, SipResponse) and message.status == 200


async def test_unknown_target_gets_404_and_bye_outside_a_dialog_481(engine_env: EngineEnv) -> None:
    client = UdpClient(engine_env.port)
    client.send(request("INVITE", f"sip:9999@127.0.0.1:{engine_env.port}", client.port))
    response = await client.response()
    assert response.status == 404
    client.send(request("BYE", f"sip:1001@127.0.0.1:{engine_env.port}", client.port, call_id="nope", branch="z9hG4bKb2",
                        to_tag="x"))  # fmt: skip
    assert (await client.response()).status == 481
    client.close()


async def test_no_common_codec_gets_488(engine_env: EngineEnv) -> None:
    client = UdpClient(engine_env.port)
    sdp = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 18\na=rtpmap:18 G729/8000\n"
    client.send(request("INVITE", f"sip:1001@127.0.0.1:{engine_env.port}", client.port, body=sdp,
                        extra="Content-Type: application/sdp\n"))  # fmt: skip
    response = await client.response()
    client.close()
    assert response.status == 488
