"""One RTP leg, sans-IO: packetise/depacketise G.711 and telephone-events, RTCP, statistics.

Inputs: ``receive_datagram(data, now)``, ``send_frame(pcm, now)`` / ``send_payload``, ``send_dtmf``,
``handle_timer(now)``. Outputs: returned events and datagrams, plus ``rtcp_to_send()``.
Nothing here touches sockets or clocks; ``now`` is any monotonic time in seconds and
``wallclock_offset`` maps it to Unix time for RTCP NTP timestamps.
"""

from __future__ import annotations

import random
import struct
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from duplex.media.codecs import CODECS_BY_PT, G711Codec
from duplex.media.dtmf import DtmfPacketPlan, DtmfReceiver, InbandDtmfDetector, plan_dtmf_packets
from duplex.media.events import AudioFrame, DtmfReceived, FrameTap, MediaEvent, RtcpReceived, SsrcChanged
from duplex.media.jitterbuffer import JitterBuffer
from duplex.media.rtcp import (
    RtcpBye,
    RtcpPacket,
    RtcpReceiverReport,
    RtcpReportBlock,
    RtcpSdes,
    RtcpSenderReport,
    parse_compound,
    seconds_to_ntp,
    serialize_compound,
)
from duplex.media.rtp import RtpPacket, is_rtcp, seq_add, ts_add
from duplex.media.stats import ReceiverStatistics, estimate_quality

__all__ = ["RtpStream", "StreamStats"]

_RTP_HEADER = struct.Struct("!BBHII")
_SEQ_TS_SSRC = struct.Struct("!HII")

Pcm = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStats:
    packets_sent: int
    octets_sent: int
    packets_received: int
    packets_expected: int
    packets_lost: int
    loss_ratio: float
    jitter_ms: float
    rtt_ms: float | None
    malformed: int
    unknown_payload: int
    late: int
    duplicates: int
    concealed: int
    r_factor: float
    mos: float


class RtpStream:
    """A single audio RTP session with one remote source."""

    def __init__(
        self,
        *,
        codec: G711Codec,
        rng: random.Random,
        payload_type: int | None = None,
        telephone_event_pt: int | None = 101,
        cname: str = "duplex",
        jitter_delay: float | None = 0.06,
        inband_dtmf: bool | None = None,
        rtcp_interval: float = 5.0,
        frame_samples: int = 160,
        wallclock_offset: float = 0.0,
    ) -> None:
        self.codec = codec
        self.payload_type = codec.payload_type if payload_type is None else payload_type
        self.telephone_event_pt = telephone_event_pt
        self.rng = rng
        self.ssrc = rng.getrandbits(32)
        self.cname = cname
        self.frame_samples = frame_samples
        self.rtcp_interval = rtcp_interval
        self.wallclock_offset = wallclock_offset
        # RFC 3550 §5.1: initial sequence number and timestamp SHOULD be random.
        self._seq = rng.getrandbits(16)
        self._ts = rng.getrandbits(32)
        self._last_send: float | None = None
        self._dtmf_queue: deque[tuple[str, int]] = deque()
        self._dtmf_plan: list[DtmfPacketPlan] = []
        self._dtmf_start = 0.0
        self._dtmf_ts = 0
        self.packets_sent = 0
        self.octets_sent = 0
        self.remote_ssrc: int | None = None
        self.receiver = ReceiverStatistics()
        self.jitter_delay = jitter_delay
        self.jitter = JitterBuffer(delay=jitter_delay, frame_samples=frame_samples) if jitter_delay else None
        self.dtmf_receiver = DtmfReceiver()
        # None: listen for tones exactly while no telephone-event is negotiated (`configure` follows the SDP)
        self._inband_follows_sdp = inband_dtmf is None
        inband = telephone_event_pt is None if inband_dtmf is None else inband_dtmf
        self.inband = InbandDtmfDetector() if inband else None
        self._last_rfc_digit: tuple[str, float] | None = None
        self.taps: list[FrameTap] = []
        self.malformed = 0
        self.unknown_payload = 0
        self._lsr = 0
        self._lsr_at: float | None = None
        self.rtt: float | None = None
        self._rtcp_out: list[bytes] = []
        self._next_rtcp: float | None = None
        self._sent_since_report = False
        self._relay_source: int | None = None  # SSRC whose packets we relay under our own SSRC
        self._relay_seq = 0  # added to the source's sequence numbers
        self._relay_ts = 0  # added to the source's timestamps

    # -- sending ---------------------------------------------------------------------------------

    def _packet(self, payload: bytes, pt: int, ts: int, marker: bool) -> bytes:
        # RFC 3550 §5.1 fixed header, V=2 and no CSRC/extension/padding (== bytes(RtpPacket(...)), but faster)
        data = _RTP_HEADER.pack(0x80, (0x80 if marker else 0) | pt, self._seq, ts, self.ssrc) + payload
        self._seq = seq_add(self._seq, 1)
        self.packets_sent += 1
        self.octets_sent += len(payload)
        self._sent_since_report = True
        return data

    def _advance(self, now: float) -> bool:
        """Move the RTP clock to ``now``; returns True when this starts a talkspurt (marker bit)."""
        self._relay_source = None  # our own audio now; a later relay re-synchronises
        if self._last_send is None:
            self._last_send = now
            self._schedule_rtcp(now)
            return True
        elapsed = now - self._last_send
        frame = self.frame_samples / self.codec.clock_rate
        self._last_send = now
        if elapsed > 1.5 * frame:  # a pause in sending: keep the timestamp in step with real time
            self._ts = ts_add(self._ts, round(elapsed / frame) * self.frame_samples)
            return True
        self._ts = ts_add(self._ts, self.frame_samples)
        return False

    def configure(self, *, codec: G711Codec, payload_type: int | None = None,
                  telephone_event_pt: int | None = None) -> None:  # fmt: skip
        """Apply a (re)negotiated codec and telephone-event payload type. Without telephone-event the peer's
        keys can only be heard, so the in-band detector runs (unless the stream was told otherwise)."""
        self.codec = codec
        self.payload_type = codec.payload_type if payload_type is None else payload_type
        self.telephone_event_pt = telephone_event_pt
        if self._inband_follows_sdp and (telephone_event_pt is None) != (self.inband is not None):
            self.inband = InbandDtmfDetector() if telephone_event_pt is None else None

    def send_payload(self, payload: bytes, now: float, payload_type: int | None = None) -> bytes:
        """Packetise one already-encoded 20 ms payload (relaying without transcoding)."""
        marker = self._advance(now)
        dtmf = self._next_dtmf(now)
        if dtmf is not None:
            return dtmf
        return self._packet(
            payload, self.payload_type if payload_type is None else payload_type, self._ts, marker
        )

    def send_frame(self, pcm: Pcm, now: float) -> bytes:
        """Encode and packetise one frame of ``frame_samples`` int16 samples due at ``now``.

        While a DTMF digit is being sent the returned datagram is its telephone-event packet instead
        (RFC 4733 §2.5.1.1: the audio is replaced, the RTP clock keeps running); between two digits it
        is ``b""`` (send nothing this tick).
        """
        return self.send_payload(self.codec.encode(pcm), now)

    def send_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        """Queue digits as RFC 4733 events; they replace audio in the next ``send_frame`` calls."""
        if self.telephone_event_pt is None:
            raise ValueError("telephone-event was not negotiated for this stream")
        for d in digits:
            plan_dtmf_packets(d, duration_ms=duration_ms)  # validate now, not at send time
            self._dtmf_queue.append((d, duration_ms))

    @property
    def dtmf_pending(self) -> bool:
        return bool(self._dtmf_plan or self._dtmf_queue)

    def _next_dtmf(self, now: float) -> bytes | None:
        if not self._dtmf_plan:
            if not self._dtmf_queue:
                return None
            digit, duration = self._dtmf_queue.popleft()
            self._dtmf_plan = plan_dtmf_packets(digit, duration_ms=duration)
            self._dtmf_plan.append(self._dtmf_plan[-1])  # one frame of pause between digits
            self._dtmf_start, self._dtmf_ts = now, self._ts
        step = self._dtmf_plan.pop(0)
        assert self.telephone_event_pt is not None
        if not self._dtmf_plan:  # the inter-digit pause: send nothing but keep the clock running
            return b""
        return self._packet(bytes(step.event), self.telephone_event_pt, self._dtmf_ts, step.marker)

    # -- receiving -------------------------------------------------------------------------------

    def add_tap(self, tap: FrameTap) -> None:
        self.taps.append(tap)

    def remove_tap(self, tap: FrameTap) -> None:
        if tap in self.taps:
            self.taps.remove(tap)

    def receive_datagram(self, data: bytes, now: float, decode: bool = True) -> list[MediaEvent]:
        """Feed one UDP datagram (RTP or RTCP, RFC 5761 demultiplexing). Malformed input is counted.

        With ``decode=False`` (the leg is relayed, see ``relay``) audio only updates the statistics: nothing is
        buffered or decoded, and no ``AudioFrame`` is produced; telephone-events are still reported.
        """
        if is_rtcp(data):
            return self._receive_rtcp(data, now)
        try:
            pkt = RtpPacket.parse(data)
        except ValueError:
            self.malformed += 1
            return []
        events: list[MediaEvent] = []
        if pkt.ssrc != self.remote_ssrc:
            events.append(SsrcChanged(old=self.remote_ssrc, new=pkt.ssrc, at=now))
            self.remote_ssrc = pkt.ssrc
            self.receiver = ReceiverStatistics()
            self.reset_jitter()
            if self._next_rtcp is None:
                self._schedule_rtcp(now)  # a participant reports receiving even if it never sends
        counted = self.receiver.update_seq(pkt.sequence_number)
        if pkt.payload_type == self.telephone_event_pt:
            ev = self.dtmf_receiver.receive(pkt)
            if ev is not None and ev.digit is not None:
                self._last_rfc_digit = (ev.digit, now)
                events.append(DtmfReceived(digit=ev.digit, at=now, source="rfc4733"))
        elif pkt.payload_type in CODECS_BY_PT:
            if counted:  # telephone-events repeat their timestamp, so only audio feeds the jitter estimate
                self.receiver.update_jitter(pkt.timestamp, now)
            if decode and self.jitter is not None:
                self.jitter.put(pkt, now)
                events.extend(self._play_out(now))
            elif decode:
                events.extend(self._frame(pkt.payload, pkt.payload_type, pkt.timestamp, now, False))
        else:
            self.unknown_payload += 1  # e.g. comfort noise (13): ignored
        return events

    def _frame(
        self, payload: bytes | None, pt: int | None, ts: int, now: float, concealed: bool
    ) -> list[MediaEvent]:
        codec = CODECS_BY_PT.get(pt if pt is not None else self.payload_type, self.codec)
        pcm = codec.decode(payload) if payload else np.zeros(self.frame_samples, dtype=np.int16)
        frame = AudioFrame(
            pcm=pcm, timestamp=ts, at=now, concealed=concealed, payload=payload, payload_type=pt
        )
        for tap in self.taps:
            tap.on_frame(frame)
        events: list[MediaEvent] = [frame]
        if self.inband is not None:
            for digit in self.inband.feed(pcm):
                last = self._last_rfc_digit
                if last is not None and last[0] == digit and now - last[1] < 0.5:
                    continue  # the same key already reported as a telephone-event
                events.append(DtmfReceived(digit=digit, at=now, source="inband"))
        return events

    def _play_out(self, now: float) -> list[MediaEvent]:
        events: list[MediaEvent] = []
        if self.jitter is None:
            return events
        for jf in self.jitter.pop_all(now):
            events.extend(self._frame(jf.payload, jf.payload_type, jf.timestamp, now, jf.concealed))
        return events

    def _receive_rtcp(self, data: bytes, now: float) -> list[MediaEvent]:
        try:
            packets = parse_compound(data)
        except ValueError:
            self.malformed += 1
            return []
        for p in packets:
            if isinstance(p, RtcpSenderReport):
                self._lsr = (p.ntp_timestamp >> 16) & 0xFFFFFFFF  # middle 32 bits (RFC 3550 §6.4.1 LSR)
                self._lsr_at = now
            if isinstance(p, RtcpSenderReport | RtcpReceiverReport):
                for block in p.reports:
                    if block.ssrc == self.ssrc and block.lsr:
                        a = (seconds_to_ntp(now + self.wallclock_offset) >> 16) & 0xFFFFFFFF
                        rtt = ((a - block.lsr - block.dlsr) & 0xFFFFFFFF) / 65536
                        if rtt < 60:
                            self.rtt = rtt
        return [RtcpReceived(packets=tuple(packets), at=now)]

    def reset_jitter(self) -> None:
        """Drop buffered frames and stop the playout clock until the next packet (e.g. when relaying starts)."""
        if self.jitter_delay:
            self.jitter = JitterBuffer(delay=self.jitter_delay, frame_samples=self.frame_samples)

    # -- relaying without decoding (bridge and echo of legs with the same codec) -------------------

    def relay(self, data: bytes, now: float, out: RtpStream) -> bytes | None:
        """Fast path: account one plain audio packet from the current source (statistics for RTCP) and return
        it re-headered as ``out``'s (``out.relayed``), without parsing into objects, buffering or decoding.

        Returns None when the packet needs ``receive_datagram`` (then ``forward``): RTCP, a new SSRC, a
        telephone-event, another payload type, CSRCs/extension/padding, or a malformed datagram.
        """
        header = self._account(data, now)
        if header is None:
            return None
        seq, ts, ssrc = header
        return out.relayed((data[1] & 0x80) | out.payload_type, seq, ts, ssrc, data, now)

    def account(self, data: bytes, now: float) -> bool:
        """Fast path for a leg whose received audio nobody uses (an echo while its greeting plays, an IVR
        prompt): count one plain audio packet from the current source for RTCP, nothing else. False when the
        packet needs ``receive_datagram`` (the same cases as ``relay``)."""
        return self._account(data, now) is not None

    def _account(self, data: bytes, now: float) -> tuple[int, int, int] | None:
        if len(data) < 12 or data[0] != 0x80:  # RFC 3550 §5.1: V=2 and no padding, extension or CSRC
            return None
        if data[1] & 0x7F != self.payload_type:
            return None
        header: tuple[int, int, int] = _SEQ_TS_SSRC.unpack_from(data, 2)
        if header[2] != self.remote_ssrc:
            return None
        r = self.receiver
        if r.update_seq(header[0]):
            r.update_jitter(header[1], now)
        return header

    def forward(self, data: bytes, now: float, out: RtpStream) -> bytes | None:
        """Re-header an audio packet of our payload type that ``receive_datagram(decode=False)`` already
        accounted (the first packet of a new source) for ``out``. Anything else gives None: telephone-events are
        consumed here as ``DtmfReceived`` (the call controller decides what to do with digits), not relayed."""
        if len(data) < 12 or data[0] != 0x80 or data[1] & 0x7F != self.payload_type:
            return None
        seq, ts, ssrc = _SEQ_TS_SSRC.unpack_from(data, 2)
        return out.relayed((data[1] & 0x80) | out.payload_type, seq, ts, ssrc, data, now)

    def relayed(self, b1: int, seq: int, ts: int, source: int, data: bytes, now: float) -> bytes:
        """A relayed packet as this stream sends it: our SSRC; the source's sequence numbers and timestamps
        shifted by offsets fixed when the source changes, so they continue from what we sent before (RFC 3550
        §5.1: both must stay continuous for the receiver) and loss or reordering passes through unchanged.
        The first packet after a change carries the marker bit (a new talkspurt)."""
        if source != self._relay_source:
            self._start_relay(source, seq, ts, now)
            b1 |= 0x80
        out_seq = (seq + self._relay_seq) & 0xFFFF
        out_ts = (ts + self._relay_ts) & 0xFFFFFFFF
        if not (out_seq - self._seq) & 0x8000:  # newest so far: later own audio continues from here
            self._seq = (out_seq + 1) & 0xFFFF
            self._ts = out_ts
            self._last_send = now
        self.packets_sent += 1
        self.octets_sent += len(data) - 12
        self._sent_since_report = True
        return _RTP_HEADER.pack(0x80, b1, out_seq, out_ts, self.ssrc) + data[12:]

    def _start_relay(self, source: int, seq: int, ts: int, now: float) -> None:
        self._relay_source = source
        self._relay_seq = (self._seq - seq) & 0xFFFF
        next_ts = self._ts
        if self._last_send is not None:  # whole frames after our last packet: a receiver's playout grid holds
            frames = round((now - self._last_send) * self.codec.clock_rate / self.frame_samples)
            next_ts = ts_add(self._ts, max(1, frames) * self.frame_samples)
        self._relay_ts = (next_ts - ts) & 0xFFFFFFFF
        if self._next_rtcp is None:
            self._schedule_rtcp(now)
        self._last_send = now

    # -- timers and RTCP -------------------------------------------------------------------------

    def _schedule_rtcp(self, now: float) -> None:
        # RFC 3550 §6.3.1: randomise the interval to [0.5, 1.5] x the nominal value.
        self._next_rtcp = now + self.rtcp_interval * self.rng.uniform(0.5, 1.5)

    def get_timer(self) -> float | None:
        timers = [
            t
            for t in (self._next_rtcp, self.jitter.get_timer() if self.jitter is not None else None)
            if t is not None
        ]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> list[MediaEvent]:
        """Play out due jitter-buffer frames and queue RTCP when its interval elapsed."""
        if self._next_rtcp is None and self.remote_ssrc is not None:
            self._schedule_rtcp(now)
        if self._next_rtcp is not None and now >= self._next_rtcp:
            self._rtcp_out.append(self.build_rtcp(now))
            self._schedule_rtcp(now)
        return self._play_out(now)

    def rtcp_to_send(self) -> list[bytes]:
        out, self._rtcp_out = self._rtcp_out, []
        return out

    def build_rtcp(self, now: float, bye: bool = False) -> bytes:
        """A compound report: SR (if we sent since the last report) or RR, then SDES CNAME."""
        blocks: tuple[RtcpReportBlock, ...] = ()
        if self.remote_ssrc is not None and self.receiver.started:
            r = self.receiver
            dlsr = int((now - self._lsr_at) * 65536) if self._lsr_at is not None else 0
            blocks = (RtcpReportBlock(ssrc=self.remote_ssrc, fraction_lost=r.fraction_lost(),
                                      packets_lost=r.lost, highest_sequence=r.extended_max & 0xFFFFFFFF,
                                      jitter=r.jitter, lsr=self._lsr, dlsr=dlsr),)  # fmt: skip
        first: RtcpPacket
        if self._sent_since_report and self._last_send is not None:
            rtp_ts = ts_add(self._ts, int((now - self._last_send) * self.codec.clock_rate))
            first = RtcpSenderReport(ssrc=self.ssrc, ntp_timestamp=seconds_to_ntp(now + self.wallclock_offset),
                                     rtp_timestamp=rtp_ts, packet_count=self.packets_sent,
                                     octet_count=self.octets_sent, reports=blocks)  # fmt: skip
        else:
            first = RtcpReceiverReport(ssrc=self.ssrc, reports=blocks)
        self._sent_since_report = False
        packets: list[RtcpPacket] = [first, RtcpSdes.cname(self.ssrc, self.cname)]
        if bye:
            packets.append(RtcpBye(sources=(self.ssrc,)))
        return serialize_compound(packets)

    def stats(self, one_way_delay_ms: float | None = None) -> StreamStats:
        r = self.receiver
        delay = one_way_delay_ms if one_way_delay_ms is not None else (self.rtt or 0.0) * 500
        jb = self.jitter
        q = estimate_quality(loss_ratio=r.loss_ratio, jitter_ms=r.jitter_ms, delay_ms=delay)
        return StreamStats(
            packets_sent=self.packets_sent, octets_sent=self.octets_sent, packets_received=r.received,
            packets_expected=r.expected, packets_lost=r.lost, loss_ratio=r.loss_ratio, jitter_ms=r.jitter_ms,
            rtt_ms=None if self.rtt is None else self.rtt * 1000, malformed=self.malformed,
            unknown_payload=self.unknown_payload, late=jb.late if jb is not None else 0,
            duplicates=(jb.duplicates if jb is not None else 0) + r.duplicates_or_late, concealed=jb.concealed if jb is not None else 0,
            r_factor=q.r_factor, mos=q.mos,
        )  # fmt: skip
