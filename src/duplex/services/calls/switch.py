"""The SIP engine: the sans-IO front the transport drives, and the dispatch of requests to the call layer.

`Switch` implements `duplex.services.sip.transport.SipCore` over the transaction layer: messages in, datagrams and one
timer out. Requests outside a dialog are dispatched by method (`out_of_dialog`: OPTIONS, REGISTER, INVITE);
requests inside one go to their `Leg` (`in_dialog`). The asyncio work (database, media, call apps) runs in tasks
that call `kick()` afterwards so the transport sends what they queued. It implements the roles of
`control.py` and `call.CallRegistry`, which is all the call layer sees of it; the directory it caches
(`directory_cache`) and its once-a-second housekeeping (`housekeeping`) have modules of their own.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from duplex.config import Settings
from duplex.services.calls import in_dialog
from duplex.services.calls.call import Call, Leg, ReferHandler
from duplex.services.calls.directory_cache import DirectoryCache
from duplex.services.calls.housekeeping import Housekeeping
from duplex.services.calls.out_of_dialog import ALLOW, InviteRouter, NewRequests
from duplex.services.calls.rtp_watchdog import RtpWatchdog
from duplex.services.calls.transfer import on_refer
from duplex.services.media.endpoint import MediaBackend
from duplex.services.registrar_service import RegistrationService
from duplex.services.sip.tls import configure_tls
from duplex.services.sip.transport import SipTransport, SwitchTransport
from duplex.services.sip.websocket import WsTransport, server_ssl_context
from duplex.services.trunk_service import TrunkService
from duplex.sip.dialog import Dialog
from duplex.sip.events import (
    AckReceived,
    Address,
    CancelReceived,
    Event,
    RequestReceived,
    ResponseReceived,
    StrayResponseReceived,
    TransactionKey,
    TransactionTerminated,
    TransactionTimeout,
    TransportError,
)
from duplex.sip.headers import via_for
from duplex.sip.message import SipMessage, SipRequest, SipResponse, make_response
from duplex.sip.timers import DEFAULT_TIMERS, TimerConfig
from duplex.sip.transaction import ServerTransaction
from duplex.sip.transaction_layer import TransactionLayer
from duplex.stores.call_store import Directory, TelephonyStore
from duplex.stores.recovery import close_left_open
from duplex.telephony.acks import AckKey, AckWaiters
from duplex.telephony.flood import FloodGuard
from duplex.telephony.front_door import FrontDoor
from duplex.telephony.legdialog import USER_AGENT
from duplex.telephony.registrar import Registrar, Source
from duplex.telephony.security import AuthFailureTracker, RequestRateLimiter
from duplex.telephony.trunks import TrunkConfig, TrunkSelector

__all__ = ["ALLOW", "InviteRouter", "Switch", "SwitchTransport"]

log = logging.getLogger("duplex.services.calls.switch")

ResponseCallback = Callable[[SipResponse | None], None]


class Switch:
    """One node's SIP endpoint: registrar, call control, B2BUA.

    Args:
        settings: host/port, public IP, realm, RTP range, data dir.
        store: database side (directory, events, rows).
        media: where legs get their media (`node.media_backend`: in-process RTP or rtpengine).
        webrtc_media: where browser legs get theirs (`node.webrtc_backend`), None where there are none.
        rng: the only randomness source (tags, branches, Call-IDs).
        timers: SIP timer values (tests may shrink T1).
        ban_exempt: source addresses never throttled or banned for auth failures.
        digest_algorithms: challenges are sent in this order (RFC 8760: most preferred first). sipp 3.6 reads
            only the first challenge and only knows MD5, so MD5 first is the compatible choice; SHA-256 stays
            offered and accepted. User agents named in ``md5_only_agents`` (baresip 1.0/libre fails with
            "Function not implemented" when any SHA-256 challenge is present) get an MD5-only challenge.
        invite_router: what to do with a new INVITE (`inbound_router.InboundRouter`, given by the composition
            root with its application table).
        refer_handler: carries out a REFER a leg accepted (`transfer.on_refer`).
        transport: makes the transport for this switch (default: UDP/TCP/TLS sockets on ``settings.sip_port``;
            `memory.MemoryTransport` runs calls without sockets).
        request_limits: per-source flood limits for new INVITE/REGISTER/OPTIONS (`flood.FloodGuard`); trunk
            addresses are always exempt.
    """

    def __init__(self, settings: Settings, store: TelephonyStore, *, invite_router: InviteRouter,
                 media: MediaBackend, webrtc_media: MediaBackend | None = None,
                 rng: random.Random | None = None, timers: TimerConfig = DEFAULT_TIMERS,
                 ban_exempt: tuple[str, ...] = ("127.0.0.1", "::1"), throttle_after: int = 5,
                 ban_after: int = 10,
                 digest_algorithms: tuple[str, ...] = ("MD5", "SHA-256"),
                 md5_only_agents: tuple[str, ...] = ("baresip", "jssip", "sip.js"),
                 request_limits: RequestRateLimiter | None = None,
                 refer_handler: ReferHandler = on_refer,
                 transport: Callable[[Switch], SwitchTransport] | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.on_refer = refer_handler
        self.store = store
        self.rng = rng or random.Random()
        self.txl = TransactionLayer(rng=self.rng, timers=timers)
        self.acks = AckWaiters(timers)  # our 2xx to INVITE until their ACK (RFC 3261 §13.3.1.4)
        self.transport: SwitchTransport = (
            SipTransport(self, host=settings.sip_host, port=settings.sip_port)
            if transport is None
            else transport(self)
        )
        self.ws: WsTransport | None = None  # SIP over WebSocket (RFC 7118), when settings.sip_ws_enabled
        self.media = media
        self.webrtc_media = webrtc_media
        self.public_ip = settings.public_ip
        self.registrations = RegistrationService(
            self,
            ban_exempt=ban_exempt,
            ban_after=ban_after,
            throttle_after=throttle_after,
            algorithms=digest_algorithms,
            md5_only_agents=md5_only_agents,
        )
        self.trunks = TrunkSelector([])
        self.directories = DirectoryCache(store, self.trunks)
        self.flood = FloodGuard(request_limits, trusted=lambda ip: self.trunks.match_inbound(ip) is not None)
        self.trunk_service = TrunkService(self)
        self.front = FrontDoor(self)  # trust, bans and floods before the transaction layer
        if isinstance(self.transport, SipTransport):  # sockets: screen raw datagrams before parsing
            self.transport.screen = self.front.screen
            self.transport.stream_limits = self.front.stream_limits
        self.calls: dict[str, Call] = {}
        self.dialogs: dict[tuple[str, str], Leg] = {}
        self.server_legs: dict[TransactionKey, Leg] = {}
        self._clients: dict[TransactionKey, ResponseCallback] = {}
        self._flow_clients: dict[Address, set[TransactionKey]] = {}  # client transactions per WebSocket flow
        self._tasks: set[asyncio.Task[Any]] = set()
        self.rtp_watchdog = RtpWatchdog(settings.rtp_timeout_seconds)
        self.housekeeping = Housekeeping(self)
        self.new_requests = NewRequests(self, invite_router)  # OPTIONS, REGISTER, INVITE
        self.allow = ALLOW
        self.status: dict[str, Any] = {"udp": 0, "tcp": 0, "registrations": 0,
                                       "trunks": self.trunk_service.status}  # fmt: skip

    @property
    def auth_failures(self) -> AuthFailureTracker:
        """Who failed to authenticate, throttled or banned (the front door and the INVITE router read it)."""
        return self.registrations.failures

    @property
    def registrar(self) -> Registrar:
        return self.registrations.registrar

    @property
    def directory(self) -> Directory:
        """Agents, numbers and trunks as last loaded (`directory_cache.DirectoryCache`)."""
        return self.directories.directory

    # -- lifecycle ---------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.transport.port

    @property
    def via_host(self) -> str:
        return self.public_ip

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        # before any new call: what this node's previous run left open can no longer be up
        await self.store.run(lambda: close_left_open(self.store.sessions, self.store.record))
        await self.refresh_directory(force=True)
        await self.registrations.restore(loop.time())
        if isinstance(self.transport, SipTransport):
            configure_tls(self.transport, self.settings)
        port = await self.transport.start()
        self.status.update(udp=port, tcp=port, registrations=self.registrations.count)
        if self.transport.tls is not None:
            self.status["tls"] = self.transport.tls_port
        if self.settings.sip_ws_enabled:
            await self._start_ws()
        self.housekeeping.start()
        await self.trunk_service.start()
        log.info("SIP engine listening on %s:%d (UDP and TCP)", self.settings.sip_host, port)
        return port

    async def _start_ws(self) -> None:
        s = self.settings
        ssl_context = (
            server_ssl_context(s.sip_wss_certfile, s.sip_wss_keyfile) if s.sip_wss_certfile else None
        )
        self.ws = WsTransport(self, host=s.sip_host, port=s.sip_ws_port, ssl_context=ssl_context)
        self.status["ws"] = await self.ws.start()
        log.info("SIP over %s on %s:%d", self.ws.transport, s.sip_host, self.ws.port)

    async def stop(self) -> None:
        self.housekeeping.stop()
        await self.trunk_service.stop()
        hangups = [call.hangup("shutdown") for call in list(self.calls.values())]
        if hangups:  # BYEs go out at once; do not wait 32 s for peers that never answer them
            await asyncio.wait([asyncio.ensure_future(h) for h in hangups], timeout=2.0)
        await asyncio.sleep(0.05)
        if self.ws is not None:
            await self.ws.stop()
        await self.transport.stop()
        for task in list(self._tasks):
            task.cancel()
        try:
            await self.media.close()
            if self.webrtc_media is not None:
                await self.webrtc_media.close()
        finally:  # the events already emitted are written even when closing some media failed
            await self.store.flush()

    async def refresh_directory(self, *, force: bool = False) -> Directory:
        """Reload agents, numbers and trunks (at most every 2 s unless forced; see `DirectoryCache`)."""
        return await self.directories.refresh(force=force)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("telephony task failed", exc_info=task.exception())
        self.kick()

    def kick(self) -> None:
        """Send what the SIP core queued (call after changing state outside a transport callback)."""
        self.transport.flush()

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    # -- SipCore -----------------------------------------------------------------------------------------
    def receive(self, message: SipMessage, addr: Address, now: float) -> None:
        if isinstance(message, SipRequest) and not self.front.admit(message, addr, now):
            return
        # Server transactions take the reliability of the transport the request came on (RFC 3261 §17.2:
        # no retransmissions and zero Timers I/J over TCP).
        self.txl.receive(message, addr, now, reliable=self.is_reliable(addr))
        self._pump()

    def datagrams_to_send(self) -> list[tuple[bytes, Address]]:
        """What the UDP/TCP transport sends: the core's output less what went to WebSocket flows."""
        out = self.txl.datagrams_to_send()
        return out if self.ws is None else self.ws.take(out)

    def flow_closed(self, addr: Address, transport: str, now: float) -> None:
        """A WebSocket connection closed: its registrations are unreachable (RFC 7118 §5.3), remove them."""
        source = Source(transport=transport.lower(), host=addr[0], port=addr[1])
        if self.registrations.registrar.remove_flow(source):
            self.registrations.expire(now)  # persists the removal and emits sip.unregistered
            self.status["registrations"] = self.registrations.count
        # requests still waiting on the flow fail now (RFC 3261 §17.1.4), not after Timer B: a ringing agent
        # whose browser went away must not hold the caller for 32 s
        for key in self._flow_clients.pop(addr, set()) & self._clients.keys():
            self.txl.transport_error(key, now)
        # and an agent whose browser closed mid-call is a phone that vanished: no one is left on a dead call
        for leg in [
            leg for call in self.calls.values() for leg in call.legs if leg.peer == addr and leg.is_up
        ]:
            log.info("%s: its WebSocket flow closed, ending it", leg)
            leg.vanished()
        self._pump()

    def stream_failed(self, addr: Address, now: float) -> None:
        """The TCP/TLS connection to ``addr`` could not be opened: RFC 3261 §18.4 "the client transaction
        should be informed of a transport error", so our requests to it fail now (a trunk fails over at once)."""
        for key in self.txl.keys_to(addr):
            if key in self._clients:
                self.txl.transport_error(key, now)
        self._pump()

    def is_reliable(self, addr: Address) -> bool:
        """Whether ``addr`` is reached over a stream (TCP or a WebSocket flow): no retransmissions."""
        return self.transport.is_reliable(addr) or (self.ws is not None and self.ws.owns(addr))

    def transport_name(self, addr: Address) -> str:
        """The Via transport for messages to ``addr``: WS/WSS for a WebSocket flow, else TCP or UDP."""
        if self.ws is not None and self.ws.owns(addr):
            return self.ws.transport
        return self.transport.name_for(addr)  # TLS, TCP or UDP

    def send_raw(self, data: bytes, addr: Address) -> None:
        """Send outside any transaction (ACK to a 2xx), over the WebSocket flow to ``addr`` if it is one."""
        if self.ws is not None and not self.ws.take([(data, addr)]):
            return  # sent over (or dropped for) a WebSocket flow
        self.transport.send(data, addr)

    def get_timer(self) -> float | None:
        """The earliest of the transaction and 2xx-retransmission deadlines (both heap peeks, O(1))."""
        txn, ack = self.txl.get_timer(), self.acks.get_timer()
        if txn is None or (ack is not None and ack < txn):
            return ack
        return txn

    def handle_timer(self, now: float) -> None:
        self.txl.handle_timer(now)
        due = self.acks.handle_timer(now)
        for response, addr in due.resend:
            self.txl.send_stateless(response, addr)
        for key in due.timed_out:
            in_dialog.ack_timed_out(self, key)
        self._pump()

    def _pump(self) -> None:
        while (event := self.txl.next_event()) is not None:
            try:
                self._dispatch(event)
            except Exception:
                log.exception("failed to handle %s", type(event).__name__)

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, RequestReceived):
            self._on_request(event.request, event.key, event.addr)
        elif isinstance(event, ResponseReceived):
            callback = self._clients.get(event.key)
            if callback is not None:
                if event.response.is_final:
                    self._clients.pop(event.key, None)
                callback(event.response)
        elif isinstance(event, TransactionTimeout | TransportError):
            callback = self._clients.pop(event.key, None)
            if callback is not None:
                callback(None)
        elif isinstance(event, AckReceived):
            self._on_ack(event.request)
        elif isinstance(event, CancelReceived):
            in_dialog.cancel_received(self, event.invite_key)
        elif isinstance(event, StrayResponseReceived):
            self._on_stray(event.response, event.addr)
        elif isinstance(event, TransactionTerminated):
            self.server_legs.pop(event.key, None)

    def _on_request(self, request: SipRequest, key: TransactionKey, addr: Address) -> None:
        if request.to_tag is not None:
            in_dialog.route_request(self, request, key, addr)
            return
        self.new_requests.receive(request, key, addr)

    def _on_ack(self, request: SipRequest) -> None:
        self.acks.ack((request.call_id, request.to_tag or "", request.cseq.number))
        in_dialog.ack_received(self, request)

    def _on_stray(self, response: SipResponse, addr: Address) -> None:
        """A retransmitted 2xx: our ACK was lost; send it again (RFC 3261 §13.2.2.4)."""
        resend = in_dialog.stray_2xx_ack(self, response)
        if resend is not None:
            self.send_raw(*resend)

    def abandon(self, key: TransactionKey) -> None:
        """Forget a server transaction that will never be answered (a banned source): no timer would end it."""
        self.txl.abandon(key)

    # -- helpers for legs and apps -----------------------------------------------------------------------
    def contact(self, transport: str = "UDP", *, secure: bool = False) -> str:
        """Our Contact on ``transport``. ``secure`` (the request's Request-URI was sips:, or we call a sips:
        target) over TLS gives a sips: URI: RFC 3261 §8.1.1.8 and §12.1.1 "the Contact header field MUST
        contain a SIPS URI" (sips implies TLS: no transport parameter; RFC 7118 §5.3 keeps ``ws`` for WSS)."""
        kind = transport.upper()
        if secure and kind in ("TLS", "WSS"):
            suffix = ";transport=ws" if kind == "WSS" else ""
            return f"<sips:duplex@{self.public_ip}:{self.port_for(transport)}{suffix}>"
        suffix = f";transport={transport.lower()}" if kind in ("TCP", "TLS", "WS", "WSS") else ""
        return f"<sip:duplex@{self.public_ip}:{self.port_for(transport)}{suffix}>"

    def respond(self, key: TransactionKey, request: SipRequest, status: int, *, reason: str | None = None,
                headers: tuple[tuple[str, str], ...] = (), to_tag: str | None = None) -> None:  # fmt: skip
        tag = to_tag or (None if request.to_tag else self.txl.new_token(10))
        response = make_response(request, status, reason, to_tag=tag,
                                 headers=(("User-Agent", USER_AGENT), *headers))  # fmt: skip
        self.send_response(key, response)

    def respond_2xx(self, key: TransactionKey, request: SipRequest, body: bytes, dialog: Dialog | None,
                    addr: Address) -> None:  # fmt: skip
        """200 to a re-INVITE inside ``dialog``, retransmitted until its ACK."""
        contact = str(dialog.local_contact) if dialog and dialog.local_contact else self.contact()
        headers = [("Contact", contact), ("User-Agent", USER_AGENT), ("Allow", ALLOW),
                   ("Content-Type", "application/sdp")]  # fmt: skip
        self.send_2xx(key, make_response(request, 200, headers=headers, body=body), addr)

    def send_2xx(self, key: TransactionKey, response: SipResponse, addr: Address) -> None:
        """Send a 2xx to INVITE and keep it until the ACK: RFC 3261 §13.3.1.4 "the UAS core ... MUST
        periodically pass the response to the transport until an ACK is received"."""
        ack_key: AckKey = (response.call_id, response.to_tag or "", response.cseq.number)
        self.acks.add(ack_key, response, addr, self.now(), reliable=self.is_reliable(addr))
        self.send_response(key, response)

    def send_response(self, key: TransactionKey, response: SipResponse) -> None:
        try:
            self.txl.send_response(key, response, self.now())
        except Exception as exc:  # the transaction may be gone (e.g. CANCEL raced the answer)
            log.debug("cannot send %d on %s: %s", response.status, key, exc)
        self.kick()

    def last_response(self, key: TransactionKey) -> SipResponse | None:
        txn = self.txl.transactions.get(key)
        return txn.last_response if isinstance(txn, ServerTransaction) else None

    def send_request(self, request: SipRequest, addr: Address, callback: ResponseCallback) -> TransactionKey:
        key = self.txl.send_request(request, addr, self.now(), reliable=self.is_reliable(addr))
        self._clients[key] = callback
        if self.ws is not None and self.ws.owns(addr):
            keys = self._flow_clients.setdefault(addr, set())
            if len(keys) >= 64:
                keys.intersection_update(self._clients)  # forget finished ones
            keys.add(key)
        self.kick()
        return key

    async def request(self, request: SipRequest, addr: Address) -> SipResponse | None:
        """Send a request in a client transaction; the final response (None on timeout)."""
        future: asyncio.Future[SipResponse | None] = asyncio.get_running_loop().create_future()

        def done(response: SipResponse | None) -> None:
            if (response is None or response.is_final) and not future.done():
                future.set_result(response)

        self.send_request(request, addr, done)
        return await future

    def send_ack(self, dialog: Dialog, response: SipResponse, addr: Address) -> bytes:
        """ACK a 2xx to INVITE (a new transaction-less request, RFC 3261 §13.2.2.4)."""
        transport = self.transport_name(addr)
        ack = dialog.create_request("ACK", via=self.via(self.txl.new_branch(), transport),
                                    cseq=response.cseq.number, headers=(("User-Agent", USER_AGENT),))  # fmt: skip
        data = bytes(ack)
        self.send_raw(data, addr)
        return data

    def cancel(self, key: TransactionKey) -> None:
        try:
            self.txl.cancel(key, self.now())
        except Exception as exc:
            log.debug("cannot cancel %s: %s", key, exc)
        self.kick()

    def register_dialog(self, key: tuple[str, str], leg: Leg) -> None:
        """Route requests with Call-ID ``key[0]`` and To tag ``key[1]`` to ``leg``."""
        self.dialogs[key] = leg
        leg.dialog_key = key

    def forget_leg(self, leg: Leg) -> None:
        key = leg.dialog_key
        if key is not None and self.dialogs.get(key) is leg:
            # keep the dialog a little for late BYE/ACK retransmissions
            asyncio.get_running_loop().call_later(32.0, self.dialogs.pop, key, None)

    def new_token(self, length: int) -> str:
        """A random token (tags, Call-IDs) from the switch's one randomness source."""
        return self.txl.new_token(length)

    def new_branch(self) -> str:
        return self.txl.new_branch()

    def use_stream(self, addr: Address, transport: str, server_name: str | None = None) -> None:
        """Reach ``addr`` over ``transport`` (tcp/tls: reuse or open a stream) from now on."""
        self.transport.use_stream(addr, transport, server_name)

    async def trunk_addresses(self, trunk: TrunkConfig) -> list[Address]:
        """The addresses of ``trunk``'s host in the order to try them; empty (logged) when it does not resolve."""
        return await self.trunk_service.dns.outbound_targets(trunk)

    def trunk_address_failed(self, addr: Address) -> None:
        """``addr`` timed out or answered 503: try the trunk's other addresses first for a while."""
        self.trunk_service.dns.failed(addr)

    def recording_path(self, path: Path) -> str:
        base = (self.settings.data_dir / "recordings").resolve()
        try:
            return str(path.resolve().relative_to(base))
        except ValueError:
            return str(path)

    def via(self, branch: str, transport: str = "UDP") -> str:
        return via_for(transport, self.via_host, self.port_for(transport), branch)

    def port_for(self, transport: str) -> int:
        if transport.upper() == "TLS":
            return self.transport.tls_port
        return self.ws.port if self.ws is not None and transport.upper() in ("WS", "WSS") else self.port
