"""The Call/Leg API for the IVR, ACD and dialer: answer, play, collect digits, record, bridge, transfer, hold,
hang up. Every state change is emitted to the event record.

A `Call` groups the legs of one conversation (the caller, an agent, a trunk leg). A `Leg` is one SIP dialog
with its media session. Signalling specific to the direction lives in `uas.InboundLeg` (answer/ring/reject)
and `uac.OutboundLeg` (INVITE/CANCEL, and `uac.originate` to start one); the in-dialog requests a leg
sends (BYE, re-INVITE, REFER) are here, those it receives in `in_dialog.py`.

Calls and legs reach the SIP switch only through the roles of `control.py` (`CallRegistry`, the live calls
and dialogs, is here because it names `Leg` and `Call`; `CallControl` is the sum of the roles): modules of
the call layer import these, never the switch (`switch.Switch` implements them and is built last, by the
composition root). The requests a leg receives inside its dialog are handled in `in_dialog.py`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import numpy as np
import numpy.typing as npt

from duplex.ivr.events import KEY_MASK
from duplex.media.events import DtmfReceived, MediaEvent, RtcpReceived
from duplex.media.frames import split_frames
from duplex.media.offer_answer import NegotiatedMedia, SdpNegotiator
from duplex.media.sdp import SdpError, SessionDescription
from duplex.media.session import AnsweringBackend, MediaSession, NegotiatingSession
from duplex.services.calls.control import Addressing, NodeResources, PhoneBook, Signalling, TrunkAccess
from duplex.sip.dialog import Dialog
from duplex.sip.errors import LocalProtocolError
from duplex.sip.events import Address, TransactionKey
from duplex.sip.message import SipRequest, SipResponse
from duplex.stores.call_store import NumberInfo
from duplex.telephony.legdialog import USER_AGENT
from duplex.telephony.legstate import LEG_TRANSITIONS, LegEvent, LegState, next_state
from duplex.telephony.quality import FarEndReports, measure

__all__ = [
    "LEG_TRANSITIONS",
    "MONITOR_LEG",
    "Call",
    "CallControl",
    "CallRegistry",
    "Leg",
    "LegEvent",
    "LegState",
    "Prompt",
    "ReferHandler",
]

log = logging.getLogger("duplex.services.calls.call")
Pcm = npt.NDArray[np.int16]
Prompt = str | Path | Pcm
SDP = "application/sdp"
MONITOR_LEG = "monitor"  # the kind of a supervisor's leg on a monitored call (`monitor.CallMonitoring`)


ReferHandler = Callable[["Leg", SipRequest, str], Coroutine[Any, Any, bool]]


class CallRegistry(Protocol):
    """The live calls and dialogs: how the switch finds the leg a request is for (``dialogs`` by Call-ID and
    our tag, ``server_legs`` by the INVITE's server transaction), and what carries out a REFER a leg
    accepted (``on_refer``, `transfer.on_refer`)."""

    @property
    def calls(self) -> dict[str, Call]: ...
    @property
    def dialogs(self) -> dict[tuple[str, str], Leg]: ...
    @property
    def server_legs(self) -> dict[TransactionKey, Leg]: ...
    @property
    def on_refer(self) -> ReferHandler: ...
    def register_dialog(self, key: tuple[str, str], leg: Leg) -> None: ...
    def forget_leg(self, leg: Leg) -> None: ...


class CallControl(Signalling, Addressing, PhoneBook, TrunkAccess, NodeResources, CallRegistry, Protocol):
    """Every role of the switch (`switch.Switch` implements it): what a `Call` is given. Its legs signal,
    address, register and use the node's media and store, and the services working on a call reach the
    directory and the trunks through it, so whatever starts a call holds the switch as this."""


class ReferSubscription(Protocol):
    """An accepted REFER's implicit subscription (`transfer.ReferSubscription`)."""

    active: bool
    sent: list[str]


class Leg:
    """One SIP dialog of a call plus its media."""

    direction = "inbound"

    def __init__(self, call: Call, *, kind: str, remote_uri: str, agent_id: int | None = None,
                 trunk_id: int | None = None, sip_call_id: str = "") -> None:  # fmt: skip
        self.call = call
        self.control: CallControl = call.control
        self.id = str(uuid.uuid4())
        self.kind = kind
        self.remote_uri = remote_uri
        self.agent_id = agent_id
        self.trunk_id = trunk_id
        self.sip_call_id = sip_call_id
        self.state = LegState.NEW
        self.dialog: Dialog | None = None  # RFC 3261 §12 state, once the dialog exists
        self.dialog_key: tuple[str, str] | None = None  # (Call-ID, our tag): how the control finds this leg
        self.peer: Address | None = None  # where this leg's requests go (symmetric, RFC 3581)
        self.media: MediaSession | None = None
        self.sdp: SdpNegotiator | None = None
        self.negotiated: NegotiatedMedia | None = None
        self.on_hold = False  # we put the remote party on hold
        self.remote_hold = False  # the remote party put us on hold
        self.ended = asyncio.Event()
        self.answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.end_reason: str | None = None
        self.hangup_by: str | None = None
        self.sip_status: int | None = None
        self.bridged_to: Leg | None = None
        self.refers_received = 0
        self.subscriptions: list[ReferSubscription] = []  # REFERs we accepted (we send the NOTIFYs)
        self.notifications: list[str] = []  # sipfrag status lines of NOTIFYs for REFERs we sent
        self.far_end = FarEndReports()  # the far end's RTCP reports about our stream, for call.quality
        self.keys_secret = (
            False  # the keys pressed now are a secret (an IVR collecting a PIN): recorded masked
        )
        call.legs.append(self)
        # The leg's CDR row is projected from its events (duplex.reports.projections): nothing else writes it.
        self.emit("leg.created", {"kind": kind, "remote_uri": remote_uri[:255], "direction": self.direction,
                                  "trunk_id": trunk_id, "sip_call_id": sip_call_id})  # fmt: skip

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id[:8]} {self.kind} {self.state}>"

    def transition(self, event: LegEvent) -> None:
        """Move to the state `LEG_TRANSITIONS` gives for ``event``; raise `LocalProtocolError` if none."""
        self.state = next_state(self.state, event, who=repr(self))

    # -- helpers ---------------------------------------------------------------------------------------
    def emit(self, type: str, data: dict[str, Any] | None = None, **fields: Any) -> None:
        self.control.store.emit(type, call_id=self.call.id, leg_id=self.id,
                               agent_id=fields.pop("agent_id", self.agent_id), data=data or {}, **fields)  # fmt: skip

    def key_pressed(self, digit: str, source: str) -> None:
        """Record a key the far end pressed (`KEY_MASK` in its place while `keys_secret`)."""
        self.emit("dtmf.received", {"digit": KEY_MASK if self.keys_secret else digit, "source": source})

    async def open_media(self, *, webrtc: bool = False, offer: str | None = None) -> MediaSession:
        """Open the leg's media; ``webrtc`` (a browser peer) takes it from the node's WebRTC backend, which
        starts from the browser's ``offer`` when the browser placed the call."""
        if self.media is None:
            backend = self.control.webrtc_media if webrtc else None
            if offer is not None and isinstance(backend, AnsweringBackend):
                self.media = await backend.open_answering_session(offer)
            else:
                self.media = await (backend or self.control.media).open_session()
            session_id = self.control.rng.getrandbits(31)
            if isinstance(self.media, NegotiatingSession):
                self.sdp = self.media.negotiator(session_id)
            else:
                self.sdp = SdpNegotiator(address=self.control.public_ip, port=self.media.local_address[1],
                                         session_id=session_id)  # fmt: skip
            self.media.listeners.append(self._on_media_event)  # rtpengine legs forward their fallback's
        return self.media

    def _on_media_event(self, event: MediaEvent) -> None:
        if isinstance(event, DtmfReceived):
            self.key_pressed(event.digit, event.source)
        elif isinstance(event, RtcpReceived) and self.media is not None:
            stream = self.media.sent_stream()
            if stream is None:  # sent by rtpengine, which reads the far end's reports itself
                return
            self.far_end.receive(event.packets, ssrc=stream.ssrc, packets_sent=stream.packets_sent,
                                 clock_rate=stream.codec.clock_rate)  # fmt: skip

    def apply_media(self, negotiated: NegotiatedMedia) -> None:
        self.negotiated = negotiated
        if self.media is not None:
            self.media.apply(negotiated)

    def _send_media(self, enabled: bool) -> None:
        """Gate this leg's RTP on the answer. RFC 3264 §6: "Once the answerer has sent the answer, it MUST be
        prepared to send and receive media [...] and it MAY send media immediately": before the answer
        (ours in the 200, or the callee's 2xx) we send none. A caller left ringing for 30 s was sent 1500
        packets of silence, which at 20 calls/s flooded the bench's callers and Duplex's CPU."""
        if self.media is not None:
            negotiated = self.negotiated
            self.media.set_sending(enabled and (negotiated is None or negotiated.send_enabled))

    @property
    def is_up(self) -> bool:
        return self.state is LegState.ANSWERED

    async def _until_ended(self, awaitable: Awaitable[Any]) -> bool:
        """Run ``awaitable`` unless the leg ends first; True if it completed."""
        task = asyncio.ensure_future(awaitable)
        ender = asyncio.ensure_future(self.ended.wait())
        done, _ = await asyncio.wait({task, ender}, return_when=asyncio.FIRST_COMPLETED)
        for fut in (task, ender):
            if fut not in done:
                fut.cancel()
        return task in done and not task.cancelled() and task.exception() is None

    # -- the API ---------------------------------------------------------------------------------------
    async def answer(self) -> None:
        """Answer an inbound leg (200 OK with SDP)."""
        raise NotImplementedError("only inbound legs can be answered")

    async def play(
        self, prompt: Prompt | None = None, *, tts: str | None = None, wav: Path | None = None
    ) -> bool:
        """Play PCM, a WAV file or a TTS text (a ``str`` prompt is TTS); False if the leg ended first."""
        media = self.media
        if media is None or self.state is LegState.ENDED:
            return False
        if tts is not None or isinstance(prompt, str):
            return await self._until_ended(media.play_tts(tts if tts is not None else str(prompt)))
        if wav is not None or isinstance(prompt, Path):
            return await self._until_ended(media.play_wav(wav if wav is not None else Path(str(prompt))))
        if prompt is None:
            return True
        return await self._until_ended(media.play(split_frames(np.asarray(prompt, dtype=np.int16))))

    async def collect_digits(self, max_digits: int = 1, timeout: float = 5.0, terminator: str | None = "#",
                             inter_digit_timeout: float | None = None) -> str:  # fmt: skip
        """Collect DTMF (RFC 4733 or in-band); each digit is also emitted as ``dtmf.received``."""
        if self.media is None or self.state is LegState.ENDED:
            return ""
        task = asyncio.ensure_future(
            self.media.collect_dtmf(max_digits, timeout, terminator, inter_digit_timeout)
        )
        await self._until_ended(asyncio.shield(task))
        if not task.done():
            task.cancel()
            return ""
        return task.result()

    async def record(self, path: Path, *, max_seconds: float = 60.0) -> Path | None:
        """Record what this leg sends us until it ends or ``max_seconds``; stores a Recording row and emits
        ``recording.started`` / ``recording.saved``."""
        if self.media is None or self.state is LegState.ENDED:
            return None
        recorder = self.media.record(path)
        self.emit("recording.started", {"path": str(path)})
        try:
            await asyncio.wait_for(self.ended.wait(), max_seconds)
        except TimeoutError:
            pass
        self.media.stop_recording()
        duration = recorder.writer.duration
        size = path.stat().st_size if path.exists() else 0
        rel = self.control.recording_path(path)
        self.control.store.add_recording(self.call.id, self.id, rel, int(duration * 1000), size)
        return path

    async def bridge(self, other: Leg) -> None:
        """Connect the media of this leg and ``other`` (both must have media)."""
        if self.media is None or other.media is None:
            raise RuntimeError("both legs need media to be bridged")
        self.media.bridge(other.media)
        self.bridged_to, other.bridged_to = other, self
        self.emit("call.bridged", {"legs": [self.id, other.id]}, agent_id=self.agent_id or other.agent_id)

    async def transfer(self, target: str, *, replaces: Leg | None = None) -> bool:
        """Ask the remote party to call ``target`` (REFER, RFC 3515). Blind, or attended with ``replaces``:
        the other leg's dialog goes into the Refer-To as ``?Replaces=`` (RFC 3891 §5), from the target's
        point of view (to-tag: the target's tag). True on 2xx; progress arrives in ``notifications``."""
        if not self.is_up:
            return False
        uri = (
            target
            if target.startswith("sip:")
            else f"sip:{target}@{self.control.public_ip}:{self.control.port}"
        )
        kind = "blind"
        if replaces is not None and replaces.dialog is not None:
            d = replaces.dialog
            uri += (
                f"?Replaces={quote(d.call_id, safe='')}%3Bto-tag%3D{d.remote_tag}%3Bfrom-tag%3D{d.local_tag}"
            )
            kind = "attended"
        response = await self.request("REFER", extra=(("Refer-To", f"<{uri}>"), ("Referred-By",
                                      f"<sip:duplex@{self.control.public_ip}>")))  # fmt: skip
        ok = response is not None and response.is_success
        if ok:
            self.emit("call.transferred", {"target": target, "kind": kind, "method": "REFER"})
        return ok

    async def hold(self) -> bool:
        """Put the remote party on hold: re-INVITE with ``a=sendonly`` (RFC 3264 §8.4)."""
        ok = await self._reinvite("sendonly")
        if ok:
            self.on_hold = True
            self.emit("call.held", {"by": "duplex"})
        return ok

    async def unhold(self) -> bool:
        ok = await self._reinvite("sendrecv")
        if ok:
            self.on_hold = False
            self.emit("call.resumed", {"by": "duplex"})
        return ok

    async def hangup(self, reason: str = "normal") -> None:
        """End the leg: BYE when answered; reject/CANCEL before (subclasses)."""
        if self.state is LegState.ANSWERED:
            self._finish(reason, "duplex")
            await self.control.store.committed()  # the BYE tells the peer the call ended: record it first
            await self.request("BYE", extra=(("Reason", f'SIP;cause=200;text="{reason}"'),))
        elif self.state is not LegState.ENDED:
            await self._hangup_early(reason)

    async def _hangup_early(self, reason: str) -> None:
        self._finish(reason, "duplex")

    # -- in-dialog requests we send --------------------------------------------------------------------
    async def request(self, method: str, *, body: bytes = b"", content_type: str | None = None,
                      extra: tuple[tuple[str, str], ...] = ()) -> SipResponse | None:  # fmt: skip
        """Send an in-dialog request and wait for its final response (None on timeout)."""
        dialog, peer = self.dialog, self.peer
        if dialog is None or peer is None or (dialog.terminated and method != "BYE"):
            return None
        headers = [("User-Agent", USER_AGENT), *extra]
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        transport = self.control.transport_name(peer)  # UDP, TCP, TLS or WS(S)
        try:
            req = dialog.create_request(method, via=self.control.via(self.control.new_branch(), transport),
                                        headers=headers, body=body)  # fmt: skip
        except LocalProtocolError:
            return None
        response = await self.control.request(req, peer)
        if response is not None:
            dialog.receive_response(method, response)  # §12.2.1.2: target refresh, 481/408 end the dialog
            if method == "INVITE" and response.is_success:
                self.control.send_ack(dialog, response, peer)
        return response

    async def _reinvite(self, direction: str) -> bool:
        if not self.is_up or self.sdp is None:
            return False
        offer = self.sdp.create_offer(direction)
        response = await self.request("INVITE", body=bytes(offer), content_type=SDP)
        if response is None or not response.is_success:
            return False
        try:
            self.apply_media(self.sdp.process_answer(SessionDescription.parse(response.body)))
        except SdpError:
            return False
        return True

    # -- ending ----------------------------------------------------------------------------------------
    def remote_hangup(self) -> None:
        """The peer sent a BYE (`in_dialog`): the leg ends, hung up by the remote party."""
        self._finish("remote_bye", "remote")

    def vanished(self) -> None:
        """The peer's connection is gone (a browser closed its SIP WebSocket mid-call): the leg ends as if
        the peer hung up, without a BYE, which nothing could carry; its call then ends the other legs."""
        self._finish("peer_vanished", "remote")

    def _finish(self, reason: str, by: str, status: int | None = None) -> None:
        if self.state is LegState.ENDED:
            return
        answered = self.state is LegState.ANSWERED
        self.transition(LegEvent.END)
        self.end_reason, self.hangup_by = reason, by
        self.sip_status = status if status is not None else self.sip_status
        self.ended.set()
        if not self.answered.done():
            self.answered.set_result(False)
        self.control.forget_leg(self)
        if self.media is not None and self.media.stats_after_close:
            self.control.spawn(self._close_then_emit_quality(self.media, answered))
        else:
            self._emit_quality(answered)  # before the media closes and before leg.ended (the CDR row has it)
            if self.media is not None:
                self.control.spawn(self.media.close())
        self.emit("leg.ended", {"reason": reason, "hangup_by": by, "sip_status": self.sip_status})
        self.call.leg_ended(self)

    async def _close_then_emit_quality(self, media: MediaSession, answered: bool) -> None:
        await media.close()  # the final counters (rtpengine); the projection takes the event after leg.ended
        self._emit_quality(answered)

    def _emit_quality(self, answered: bool) -> None:
        """One ``call.quality`` for a leg whose media flowed: answered, or early media received (a leg that
        failed before answer without media emits nothing). See `duplex.telephony.quality`."""
        if self.media is None:
            return
        stats = self.media.stats()
        if not answered and stats.packets_received == 0:
            return
        codec = self.negotiated.codec if self.negotiated is not None else None
        self.emit("call.quality", measure(stats, codec=codec, far_end=self.far_end.latest).event_data())

    def _mark_answered(self) -> None:
        self.transition(LegEvent.ANSWER)
        if not self.answered.done():
            self.answered.set_result(True)
        self.emit("leg.answered", {"codec": self.negotiated.codec if self.negotiated else None})


class Call:
    """One conversation: its legs, its lifetime, its events.

    With ``hangup_together`` (the default) the call ends as soon as one leg ends, and the others are hung up
    (a B2BUA); an IVR that keeps the caller after an agent leg fails sets it to False.
    """

    def __init__(self, control: CallControl, *, direction: str, from_number: str, to_number: str,
                 number: NumberInfo | None = None, call_id: str | None = None,
                 trunk_id: int | None = None) -> None:  # fmt: skip
        self.control = control
        self.trunk_id = trunk_id  # the carrier an inbound call came from
        self.id = call_id or str(uuid.uuid4())
        self.direction = direction
        self.from_number = from_number
        self.to_number = to_number
        self.tracking_source = number.tracking_source if number else None  # which advert the number is
        self.legs: list[Leg] = []
        self.ended = asyncio.Event()
        self.hangup_together = True
        self.answered = False
        self.end_reason: str | None = None
        self._first_ended: Leg | None = None
        control.calls[self.id] = self
        # The call's CDR row is projected from its events (duplex.reports.projections): nothing else writes it.
        data: dict[str, Any] = {"direction": direction, "from": from_number, "to": to_number,
                "tracking_source": number.tracking_source if number else None,
                "phone_number_id": number.id if number else None}  # fmt: skip
        if trunk_id is not None:  # inbound from a carrier (outbound legs record their trunk when answered)
            data["trunk_id"] = trunk_id
        control.store.emit(
            "call.created", call_id=self.id, queue_id=number.queue_id if number else None, data=data
        )

    def mark_answered(self, leg: Leg) -> None:
        if not self.answered:
            self.answered = True
            self.control.store.emit(
                "call.answered", call_id=self.id, leg_id=leg.id, agent_id=leg.agent_id, data={}
            )

    def leg_ended(self, leg: Leg) -> None:
        live = [other for other in self.legs if other.state is not LegState.ENDED]
        if leg.kind == MONITOR_LEG and any(other.kind != MONITOR_LEG for other in live):
            return  # a supervisor who stops monitoring leaves the conversation as it was
        if self._first_ended is None:
            self._first_ended = leg
        if self.hangup_together:
            for other in live:
                self.control.spawn(other.hangup("peer_hangup"))
            live = []
        if not live:
            self._finish(leg)

    def finish_empty(self, last: Leg) -> None:
        """End a call whose last live leg moved to another call (an attended transfer)."""
        self._finish(last, "transferred")

    def _finish(self, last: Leg, reason: str | None = None) -> None:
        if self.ended.is_set():
            return
        self.ended.set()
        self.control.calls.pop(self.id, None)
        first = self._first_ended or last
        reason = reason or first.end_reason
        if reason == "remote_bye":  # caller_hangup, agent_hangup, trunk_hangup
            reason = f"{first.kind}_hangup"
        self.end_reason = reason
        self.control.store.emit("call.ended", call_id=self.id, leg_id=first.id, data={
            "reason": reason, "hangup_by": first.hangup_by, "leg_kind": first.kind,
            "sip_status": first.sip_status, "answered": self.answered})  # fmt: skip

    async def hangup(self, reason: str = "normal") -> None:
        for leg in list(self.legs):
            await leg.hangup(reason)
