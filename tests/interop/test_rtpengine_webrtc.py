"""A browser leg bridged to an rtpengine leg (media_backend=rtpengine): the caller's RTP is relayed by the real
rtpengine-daemon, the browser's WebRTC audio (ICE, DTLS-SRTP, Opus) is answered in process, and the two meet
through the browser leg's inner endpoint. aiortc's own peer connection plays the browser."""

from __future__ import annotations

import asyncio
import socket
import struct

import numpy as np
import pytest

from duplex.media.codecs.g711 import PCMU
from duplex.media.offer_answer import NegotiatedMedia
from duplex.media.tones import tone
from duplex.services.media.local_backend import LocalMediaBackend
from duplex.services.media.rtpengine_backend import RtpengineBackend
from duplex.services.media.webrtc import WebRtcBackend
from interop.test_rtpengine import Rtpengine, rtpengine  # noqa: F401 - the fixture
from media.test_webrtc_backend import connect_browser, loudest

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


async def test_a_caller_on_rtpengine_and_a_browser_hear_each_other(rtpengine: Rtpengine) -> None:  # noqa: F811
    local = LocalMediaBackend("127.0.0.1")
    backend = RtpengineBackend(rtpengine.ng, media_address="127.0.0.1", fallback=local)
    webrtc = WebRtcBackend(LocalMediaBackend("127.0.0.1"), media_address="127.0.0.1")
    phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    phone.bind(("127.0.0.1", 0))
    phone.setblocking(False)
    caller = await backend.open_session()
    agent = await webrtc.open_session()
    browser, heard = await connect_browser(agent)
    try:
        caller.apply(NegotiatedMedia(remote_address="127.0.0.1", remote_port=phone.getsockname()[1],
                                     codec="PCMU", payload_type=0, telephone_event_pt=101,
                                     direction="sendrecv"))  # fmt: skip
        caller.bridge(agent)  # what the B2BUA does when the agent answers
        payload = PCMU.encode(tone([1000], 20, amplitude=8000))
        loop = asyncio.get_running_loop()
        received: list[bytes] = []
        for seq in range(150):  # 3 s of the caller speaking, reading what comes back meanwhile
            phone.sendto(
                struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234) + payload, caller.local_address
            )
            while True:
                try:
                    received.append(phone.recv(2048))
                except BlockingIOError:
                    break
            await asyncio.sleep(0.02)
            if seq == 100:
                listening = loop.create_task(loudest(heard, 1.0))
        assert await listening > 1000  # the caller's tone reached the browser through rtpengine and WebRTC
        peaks = [int(np.abs(PCMU.decode(p[12:]).astype(np.int32)).max(initial=0)) for p in received
                 if len(p) > 12 and p[1] & 0x7F == 0]  # fmt: skip
        assert len(peaks) > 20 and max(peaks) > 1000, (len(peaks), max(peaks, default=0))  # the browser's
    finally:
        await browser.close()
        await webrtc.close()
        await backend.close()
        await local.close()
        phone.close()
