"""The asyncio shell around ``rtpengine_ng.NgConnection``: one UDP socket to the daemon's ``--listen-ng``.

It only pumps datagrams and the one retransmission timer; requests resolve to the reply dictionary or raise
``NgCommandError`` (``result: error``) / ``NgTimeout`` (no reply after the retries).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from typing import Any

from duplex.media import rtpengine_ng as ng

__all__ = ["RtpengineClient", "parse_address"]

log = logging.getLogger("duplex.media.rtpengine")
Addr = tuple[str, int]


def parse_address(text: str) -> Addr:
    """``"127.0.0.1:2223"`` -> ``("127.0.0.1", 2223)``.

    Raises:
        ValueError: no port, or a port out of range.
    """
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a host:port address: {text!r}")
    return host.strip("[]"), int(port)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, client: RtpengineClient) -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.client._on_datagram(data)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable: the retries time out
        log.debug("rtpengine ng socket error: %s", exc)


class RtpengineClient:
    """Talk ng to one rtpengine. ``connect()`` is implicit on the first request."""

    def __init__(self, address: Addr, *, policy: ng.NgRetryPolicy | None = None,
                 rng: random.Random | None = None) -> None:  # fmt: skip
        self.address = address
        self.conn = ng.NgConnection(rng or random.Random(), policy or ng.NgRetryPolicy())
        self._transport: asyncio.DatagramTransport | None = None
        self._connecting: asyncio.Lock = asyncio.Lock()
        self._waiters: dict[str, asyncio.Future[ng.NgResponse]] = {}
        self._timer: asyncio.TimerHandle | None = None

    async def connect(self) -> None:
        async with self._connecting:
            if self._transport is None:
                loop = asyncio.get_running_loop()
                self._transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Udp(self), remote_addr=self.address
                )

    async def request(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Send one command and wait for its reply.

        Raises:
            NgCommandError: the daemon answered ``result: error``.
            NgTimeout: no reply after the retry policy's retransmissions.
        """
        if self._transport is None:
            await self.connect()
        loop = asyncio.get_running_loop()
        cookie = self.conn.send(body, loop.time())
        waiter: asyncio.Future[ng.NgResponse] = loop.create_future()
        self._waiters[cookie] = waiter
        self._pump()
        try:
            response = await waiter
        finally:
            self._waiters.pop(cookie, None)
            self.conn.cancel(cookie)
        if not response.ok:
            raise ng.NgCommandError(str(body.get("command")), response.error_reason or response.result)
        if response.warning:
            log.warning("rtpengine %r: %s", body.get("command"), response.warning)
        return dict(response.body)

    def _on_datagram(self, data: bytes) -> None:
        self.conn.receive_data(data, asyncio.get_running_loop().time())
        self._pump()

    def _on_timer(self) -> None:
        self._timer = None
        self.conn.handle_timer(asyncio.get_running_loop().time())
        self._pump()

    def _pump(self) -> None:
        if self._transport is not None:
            for data in self.conn.data_to_send():
                self._transport.sendto(data)
        while (event := self.conn.next_event()) is not None:
            waiter = self._waiters.get(event.cookie)
            if waiter is None or waiter.done():
                continue
            if isinstance(event, ng.NgReplied):
                waiter.set_result(event.response)
            else:
                waiter.set_exception(ng.NgTimeout(f"rtpengine {event.request.command!r}: no reply"))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = self.conn.get_timer()
        if when is not None:
            self._timer = asyncio.get_running_loop().call_at(when, self._on_timer)

    # -- commands --------------------------------------------------------------------------------------
    async def ping(self) -> bool:
        return (await self.request(ng.ping())).get("result") == "pong"

    async def offer(self, call_id: str, from_tag: str, sdp: str, **options: Any) -> str:
        """Returns the rewritten SDP for the answerer."""
        return str((await self.request(ng.offer(call_id, from_tag, sdp, **options)))["sdp"])

    async def answer(self, call_id: str, from_tag: str, to_tag: str, sdp: str, **options: Any) -> str:
        """Returns the rewritten SDP for the offerer."""
        return str((await self.request(ng.answer(call_id, from_tag, to_tag, sdp, **options)))["sdp"])

    async def delete(self, call_id: str, **options: Any) -> dict[str, Any]:
        return await self.request(ng.delete(call_id, **options))

    async def query(self, call_id: str, **options: Any) -> dict[str, Any]:
        return await self.request(ng.query(call_id, **options))

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.cancel()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
