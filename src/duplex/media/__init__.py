"""Duplex media layer: RTP/RTCP, G.711, DTMF, tones, jitter buffer, recording, TTS, mixing, SDP.

Only sans-IO cores live here (``RtpStream``, ``JitterBuffer``, detectors, ``SdpNegotiator``): they take time as
an argument and import no asyncio, sockets or subprocesses. The ``MediaSession`` protocol a call controller uses
is defined here; its implementations (``RtpEndpoint``, the rtpengine backend, TTS) are services in
``duplex.services.media``.
"""

from __future__ import annotations

from duplex.media.codecs import PCMA, PCMU, G711Codec, get_codec
from duplex.media.dtmf import (
    DtmfReceiver,
    InbandDtmfDetector,
    TelephoneEvent,
    generate_dtmf,
    plan_dtmf_packets,
)
from duplex.media.events import AudioFrame, DtmfReceived, FrameTap, MediaEvent, RtcpReceived, SsrcChanged
from duplex.media.jitterbuffer import JitterBuffer, JitterFrame
from duplex.media.mixer import ConferenceMixer, mix_n_minus_1
from duplex.media.offer_answer import NegotiatedMedia, SdpNegotiator
from duplex.media.recorder import CallRecorder, ChannelTap
from duplex.media.rtcp import (
    RtcpBye,
    RtcpReceiverReport,
    RtcpReportBlock,
    RtcpSdes,
    RtcpSenderReport,
    parse_compound,
    serialize_compound,
)
from duplex.media.rtp import RtpPacket
from duplex.media.sdp import SdpError, SdpNegotiationError, SdpParseError, SessionDescription
from duplex.media.session import MediaBackend, MediaSession
from duplex.media.stats import QualityEstimate, ReceiverStatistics, estimate_quality
from duplex.media.stream import RtpStream, StreamStats
from duplex.media.tones import CallProgress, CallProgressDetector, CallProgressEvent
from duplex.media.wav import WavWriter, read_wav

__all__ = [
    "PCMA",
    "PCMU",
    "AudioFrame",
    "CallProgress",
    "CallProgressDetector",
    "CallProgressEvent",
    "CallRecorder",
    "ChannelTap",
    "ConferenceMixer",
    "DtmfReceived",
    "DtmfReceiver",
    "FrameTap",
    "G711Codec",
    "InbandDtmfDetector",
    "JitterBuffer",
    "JitterFrame",
    "MediaBackend",
    "MediaEvent",
    "MediaSession",
    "NegotiatedMedia",
    "QualityEstimate",
    "ReceiverStatistics",
    "RtcpBye",
    "RtcpReceived",
    "RtcpReceiverReport",
    "RtcpReportBlock",
    "RtcpSdes",
    "RtcpSenderReport",
    "RtpPacket",
    "RtpStream",
    "SdpError",
    "SdpNegotiationError",
    "SdpNegotiator",
    "SdpParseError",
    "SessionDescription",
    "SsrcChanged",
    "StreamStats",
    "TelephoneEvent",
    "WavWriter",
    "estimate_quality",
    "generate_dtmf",
    "get_codec",
    "mix_n_minus_1",
    "parse_compound",
    "plan_dtmf_packets",
    "read_wav",
    "serialize_compound",
]
