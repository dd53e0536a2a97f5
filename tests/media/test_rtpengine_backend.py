"""The rtpengine backend's pure parts and the client's timeout; the daemon itself is in
tests/interop/test_rtpengine.py."""

from __future__ import annotations

import socket

import pydantic
import pytest

from duplex.config import Settings
from duplex.media.rtpengine_ng import NgRetryPolicy, NgTimeout
from duplex.media.rtpengine_sdp import ALL_FORMATS, monologue_sdp, stats_from_query
from duplex.services.media.endpoint import RtpEndpoint
from duplex.services.media.local_backend import LocalMediaBackend
from duplex.services.media.rtpengine_backend import RtpengineBackend
from duplex.services.media.rtpengine_client import RtpengineClient, parse_address
from duplex.services.node import media_backend

# A trimmed ``query`` reply from rtpengine 10.5 (Debian bookworm) for one bridged leg.
QUERY_REPLY = {
    "result": "ok",
    "tags": {
        "int": {"tag": "int", "medias": [{"index": 1, "type": "audio", "streams": [
            {"local port": 42320, "flags": ["RTP", "filled"], "stats": {"packets": 20, "bytes": 3440}},
            {"local port": 42321, "flags": ["RTCP", "filled"], "stats": {"packets": 2, "bytes": 100}}]}]},
        "ext": {"tag": "ext", "medias": [{"index": 1, "type": "audio", "streams": [
            {"local port": 42300, "flags": ["RTP", "filled"], "stats": {"packets": 40, "bytes": 6880}},
            {"local port": 42301, "flags": ["RTCP", "filled"], "stats": {"packets": 0, "bytes": 0}}]}]},
    },
    "totals": {"RTP": {"packets": 60, "bytes": 10320, "errors": 0}},
}  # fmt: skip


def test_stats_from_query() -> None:
    stats = stats_from_query(QUERY_REPLY)
    assert (stats.packets_received, stats.packets_sent, stats.octets_sent) == (40, 20, 3440)
    assert stats_from_query({}).packets_received == 0


def test_placeholder_and_peermonologue_sdp() -> None:
    assert monologue_sdp("0.0.0.0", 9, ALL_FORMATS, "sendrecv") == (
        "v=0\r\no=duplex 1 1 IN IP4 127.0.0.1\r\ns=duplex\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
        "m=audio 9 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    )
    peer = monologue_sdp("192.0.2.5", 4000, [(8, "PCMA/8000"), (96, "telephone-event/8000")], "recvonly")
    assert "c=IN IP4 192.0.2.5\r\n" in peer and "m=audio 4000 RTP/AVP 8 96\r\n" in peer
    assert peer.endswith("a=fmtp:96 0-16\r\na=ptime:20\r\na=recvonly\r\n")


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:2223", ("127.0.0.1", 2223)),
        (" [::1]:22222 ", ("::1", 22222)),
        ("rtp.local:1", ("rtp.local", 1)),
    ],
)
def test_parse_address(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["127.0.0.1", ":2223", "host:0", "host:70000", "host:x"])
def test_parse_address_errors(text: str) -> None:
    with pytest.raises(ValueError, match="not a host:port address"):
        parse_address(text)


def test_settings_select_the_backend() -> None:
    assert isinstance(media_backend(Settings(sip_host="127.0.0.1")), LocalMediaBackend)
    backend = media_backend(Settings(media_backend="rtpengine", media_rtpengine_ng="127.0.0.1:2300",
                                     public_ip="192.0.2.10"))  # fmt: skip
    assert isinstance(backend, RtpengineBackend)
    assert backend.client.address == ("127.0.0.1", 2300) and backend.media_address == "192.0.2.10"
    assert not backend.inject_dtmf
    # the RTP timeout (60 s) reads the leg's counters: they are queried every 15 s unless the setting says
    assert backend.stats_interval == 15.0
    queried = media_backend(Settings(media_backend="rtpengine", media_rtpengine_stats_interval=2.0))
    never = media_backend(Settings(media_backend="rtpengine", rtp_timeout_seconds=0))
    assert isinstance(queried, RtpengineBackend) and queried.stats_interval == 2.0
    assert isinstance(never, RtpengineBackend) and never.stats_interval == 0.0
    injecting = media_backend(Settings(media_backend="rtpengine", media_rtpengine_inject_dtmf=True))
    assert isinstance(injecting, RtpengineBackend) and "inject DTMF" in injecting.flags
    with pytest.raises(pydantic.ValidationError):
        Settings(media_backend="freeswitch")


async def test_client_times_out_after_its_retries() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        client = RtpengineClient(silent.getsockname(), policy=NgRetryPolicy(interval=0.05, retries=2))
        try:
            with pytest.raises(NgTimeout, match="'ping': no reply"):
                await client.ping()
            received = []
            silent.setblocking(False)
            while True:
                try:
                    received.append(silent.recv(100))
                except BlockingIOError:
                    break
        finally:
            await client.close()
    assert len(received) == 3 and len(set(received)) == 1  # the request, then the same bytes twice
    assert received[0].endswith(b" d7:command4:pinge")


async def test_legs_fall_back_to_in_process_media_when_rtpengine_does_not_answer() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        client = RtpengineClient(silent.getsockname(), policy=NgRetryPolicy(interval=0.02, retries=1))
        backend = RtpengineBackend(
            silent.getsockname(), client=client, fallback=LocalMediaBackend("127.0.0.1")
        )
        try:
            a, b = await backend.open_session(), await backend.open_session()
            assert isinstance(a, RtpEndpoint) and isinstance(b, RtpEndpoint)
            a.bridge(b)  # two fallback legs bridge in process
        finally:
            await backend.close()
        without = RtpengineBackend(silent.getsockname(), client=RtpengineClient(
            silent.getsockname(), policy=NgRetryPolicy(interval=0.02, retries=0)))  # fmt: skip
        try:
            with pytest.raises(NgTimeout):
                await without.open_session()
        finally:
            await without.close()
