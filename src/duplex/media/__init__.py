"""Duplex media layer: RTP/RTCP, G.711, DTMF, tones, jitter buffer, recording, TTS, mixing, SDP.

Sans-IO cores (``RtpStream``, ``JitterBuffer``, detectors, ``SdpNegotiator``) take time as an argument;
``RtpEndpoint`` is the asyncio shell and implements the ``MediaSession`` protocol a call controller uses.
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
from duplex.media.endpoint import MediaBackend, MediaSession, RtpEndpoint, split_frames
from duplex.media.events import AudioFrame, DtmfReceived, FrameTap, MediaEvent, RtcpReceived, SsrcChanged
from duplex.media.jitterbuffer import JitterBuffer, JitterFrame
from duplex.media.local_backend import LocalMediaBackend
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
from duplex.media.stats import QualityEstimate, ReceiverStatistics, estimate_quality
from duplex.media.stream import RtpStream, StreamStats
from duplex.media.tones import CallProgress, CallProgressDetector, CallProgressEvent
from duplex.media.tts import TextToSpeech, TtsError
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
    "LocalMediaBackend",
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
    "RtpEndpoint",
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
    "TextToSpeech",
    "TtsError",
    "WavWriter",
    "estimate_quality",
    "generate_dtmf",
    "get_codec",
    "mix_n_minus_1",
    "parse_compound",
    "plan_dtmf_packets",
    "read_wav",
    "serialize_compound",
    "split_frames",
]
