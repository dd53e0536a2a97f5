"""Transaction reliability per transport (RFC 3261 §17) and the 2xx retransmission of §13.3.1.4, end to end:
over TCP nothing is retransmitted and Timers I/J are zero; over UDP responses are retransmitted until the ACK.
T1 is shrunk to 50 ms so that a second of silence spans many retransmission intervals."""

from __future__ import annotations

import asyncio

import pytest
from engine_fixtures import EngineEnv, UdpClient, engine_env, engine_options, request

from duplex.sip.framing import StreamFramer
from duplex.sip.message import SipMessage, SipRequest, SipResponse
from duplex.sip.timers import TimerConfig

__all__ = ["engine_env", "engine_options"]

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.parametrize("engine_options", [{"timers": TimerConfig(t1=0.05)}]),
]

SDP = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 40000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"


class TcpClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.port = int(writer.get_extra_info("sockname")[1])
        self.framer = StreamFramer()

    @classmethod
    async def connect(cls, port: int) -> TcpClient:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def send(self, text: str) -> None:
        self.writer.write(text.replace("SIP/2.0/UDP", "SIP/2.0/TCP").replace("\n", "\r\n").encode())

    async def message(self, timeout: float = 2.0) -> SipMessage:
        while (message := self.framer.next_message()) is None:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("closed")
            self.framer.receive_data(data)
        return message

    async def messages_for(self, seconds: float) -> list[SipMessage]:
        out: list[SipMessage] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                out.append(await self.message(left))
            except TimeoutError:
                break
        return out

    def close(self) -> None:
        self.writer.close()


def _invite(env: EngineEnv, port: int, target: str, branch: str) -> str:
    return request("INVITE", f"sip:{target}@127.0.0.1:{env.port}", port, call_id=f"rel-{branch}", branch=branch,
                   body=SDP, extra="Content-Type: application/sdp\n")  # fmt: skip


def _final(messages: list[SipMessage], status: int) -> list[SipResponse]:
    return [m for m in messages if isinstance(m, SipResponse) and m.status == status]


async def test_2xx_is_not_retransmitted_over_tcp_and_the_missing_ack_ends_the_call(
    engine_env: EngineEnv,
) -> None:
    client = await TcpClient.connect(engine_env.port)
    client.send(_invite(engine_env, client.port, "1001", "z9hG4bKtcp1"))
    first = await client.messages_for(1.5)  # 100, 200, then silence: no 200 again while we do not ACK
    assert len(_final(first, 200)) == 1, first
    later = await client.messages_for(64 * 0.05 + 1.0)  # §13.3.1.4: no ACK after 64*T1 -> BYE
    client.close()
    assert not _final(later, 200)
    assert [m.method for m in later if isinstance(m, SipRequest)] == ["BYE"]


async def test_2xx_is_retransmitted_over_udp_until_the_ack(engine_env: EngineEnv) -> None:
    client = UdpClient(engine_env.port)
    client.send(_invite(engine_env, client.port, "1001", "z9hG4bKudp1"))
    oks: list[SipResponse] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + 1.0
    while (left := end - loop.time()) > 0:
        try:
            response = await client.response(timeout=left)
        except TimeoutError:
            break
        oks.append(response)
    # T1 = 50 ms doubling: 0.05, 0.1, 0.2, 0.4 s -> the original and at least 3 retransmissions in 1 s
    assert len(oks) >= 4 and {r.status for r in oks} == {200}
    ack = request("ACK", f"sip:1001@127.0.0.1:{engine_env.port}", client.port, call_id="rel-z9hG4bKudp1",
                  branch="z9hG4bKudp1ack", to_tag=oks[0].to_tag or "")  # fmt: skip
    client.send(ack)
    await asyncio.sleep(0.2)
    assert len(engine_env.engine.acks) == 0  # the ACK stopped the retransmissions
    client.close()


async def test_error_response_over_tcp_is_sent_once_over_udp_retransmitted(engine_env: EngineEnv) -> None:
    tcp = await TcpClient.connect(engine_env.port)
    tcp.send(_invite(engine_env, tcp.port, "9999", "z9hG4bKtcp404"))
    over_tcp = await tcp.messages_for(1.0)
    tcp.close()
    assert len(_final(over_tcp, 404)) == 1  # Timer G is not started on a reliable transport
    udp = UdpClient(engine_env.port)
    udp.send(_invite(engine_env, udp.port, "9999", "z9hG4bKudp404"))
    statuses = [(await udp.response(timeout=1.0)).status for _ in range(3)]
    udp.close()
    assert statuses == [404, 404, 404]  # Timer G: retransmitted until the ACK


async def test_non_invite_transaction_over_tcp_ends_at_once(engine_env: EngineEnv) -> None:
    txl = engine_env.engine.txl
    tcp = await TcpClient.connect(engine_env.port)
    tcp.send(
        request("OPTIONS", f"sip:127.0.0.1:{engine_env.port}", tcp.port, call_id="o-tcp", branch="z9hG4bKot")
    )
    response = await tcp.message()
    tcp.close()
    assert isinstance(response, SipResponse) and response.status == 200
    assert not [k for k in txl.transactions if k.branch == "z9hG4bKot"]  # Timer J = 0 for TCP
    udp = UdpClient(engine_env.port)
    udp.send(
        request("OPTIONS", f"sip:127.0.0.1:{engine_env.port}", udp.port, call_id="o-udp", branch="z9hG4bKou")
    )
    assert (await udp.response()).status == 200
    udp.close()
    assert [k for k in txl.transactions if k.branch == "z9hG4bKou"]  # Timer J = 64*T1 for UDP
