"""SDP (RFC 4566) and offer/answer (RFC 3264)."""

from __future__ import annotations

from pathlib import Path

import pytest

from duplex.media.offer_answer import SdpNegotiator, answer_direction
from duplex.media.sdp import SdpNegotiationError, SdpParseError, SessionDescription

DATA = Path(__file__).parent / "data"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.mark.parametrize("name", ["baresip-1.0.0-offer.sdp", "sipp-uac-offer.sdp", "sipp-uac-pcap-offer.sdp"])
def test_real_bodies_round_trip_byte_exact(name: str) -> None:
    raw = load(name)
    assert bytes(SessionDescription.parse(raw)) == raw


def test_baresip_offer_fields() -> None:
    sdp = SessionDescription.parse(load("baresip-1.0.0-offer.sdp"))
    assert sdp.origin.session_version == 1303819200 and sdp.connection is not None
    assert sdp.attributes == (("tool", "baresip 1.0.0"),)
    (audio,) = sdp.media
    assert (audio.media, audio.port, audio.proto, audio.formats) == (
        "audio",
        21020,
        "RTP/AVP",
        ("0", "8", "101"),
    )
    assert audio.rtpmap == {0: ("PCMU", 8000, 1), 8: ("PCMA", 8000, 1), 101: ("telephone-event", 8000, 1)}
    assert audio.fmtp == {101: "0-15"} and audio.ptime == 20 and audio.direction == "sendrecv"
    assert audio.attribute("rtcp-rsize") == "" and audio.attribute("label") == "1"


def test_lf_line_endings_are_accepted() -> None:
    raw = load("sipp-uac-offer.sdp").replace(b"\r\n", b"\n")
    assert SessionDescription.parse(raw).media[0].port == 6000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "SDP must start with a v= line"),
        ("o=- 1 1 IN IP4 1.2.3.4\r\n", "SDP must start with a v= line"),
        ("v=1\r\n", "SDP version '1' is not 0"),
        ("v=0\r\ns=-\r\nt=0 0\r\n", "SDP has no o= line"),
        ("v=0\r\no=- 1 1 IN IP4 h\r\nt=0 0\r\n", "SDP has no s= line"),
        ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n", "SDP has no t= line"),
        ("v=0\r\no=- x 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", "SDP o= session id and version must be numeric"),
        ("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n", "SDP o= line needs 6 fields, got 5"),
        ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4\r\nt=0 0\r\n", "SDP c= line needs 3 fields, got 2"),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio\r\n",
            "SDP m= line needs at least 3 fields, got 1",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 70000 RTP/AVP 0\r\n",
            "SDP m= port is not a number 0-65535: '70000'",
        ),  # fmt: skip
        ("v=0\r\ngarbage\r\n", "SDP line is not <type>=<value>: 'garbage'"),
    ],
)
def test_parse_errors(body: str, message: str) -> None:
    with pytest.raises(SdpParseError) as exc:
        SessionDescription.parse(body)
    assert str(exc.value) == message
    assert exc.value.status_code == 400


def negotiator(port: int = 40000, codecs: tuple[str, ...] = ("PCMU", "PCMA")) -> SdpNegotiator:
    return SdpNegotiator(address="127.0.0.1", port=port, session_id=1000, codecs=codecs)


def test_offer_contents() -> None:
    offer = negotiator().create_offer()
    text = str(offer)
    assert "m=audio 40000 RTP/AVP 0 8 101\r\n" in text
    for line in ("a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000",
                 "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv", "c=IN IP4 127.0.0.1"):  # fmt: skip
        assert line + "\r\n" in text
    assert SessionDescription.parse(bytes(offer)) == offer


def test_reoffer_increments_origin_version_only() -> None:
    n = negotiator()
    first, second = n.create_offer(), n.create_offer("sendonly")
    assert second.origin.session_version == first.origin.session_version + 1
    assert second.origin.session_id == first.origin.session_id


def test_answer_chooses_first_common_codec_in_offerer_order() -> None:
    offer = SessionDescription.parse(load("sipp-uac-pcap-offer.sdp"))  # PCMA 8, telephone-event 101
    answer, media = negotiator().create_answer(offer)
    assert (media.codec, media.payload_type, media.telephone_event_pt) == ("PCMA", 8, 101)
    assert (media.remote_address, media.remote_port, media.direction) == ("127.0.0.1", 6000, "sendrecv")
    assert answer.media[0].formats == ("8", "101")
    baresip = SessionDescription.parse(load("baresip-1.0.0-offer.sdp"))
    _, media = negotiator(codecs=("PCMA", "PCMU")).create_answer(baresip)
    assert media.codec == "PCMU"  # offerer's order wins (RFC 3264 §6.1)


def test_answer_mirrors_dynamic_telephone_event_pt() -> None:
    raw = load("baresip-1.0.0-offer.sdp").replace(b"101", b"96")
    answer, media = negotiator().create_answer(SessionDescription.parse(raw))
    assert media.telephone_event_pt == 96
    assert answer.media[0].formats == ("0", "96")
    assert answer.media[0].fmtp == {96: "0-16"}


def test_no_common_codec_is_488() -> None:
    raw = load("sipp-uac-offer.sdp").replace(b"RTP/AVP 0", b"RTP/AVP 9").replace(b"0 PCMU", b"9 G722")
    with pytest.raises(SdpNegotiationError) as exc:
        negotiator().create_answer(SessionDescription.parse(raw))
    assert exc.value.status_code == 488
    assert str(exc.value) == "no common audio codec (offered: G722/8000)"


def test_no_audio_is_488() -> None:
    raw = load("sipp-uac-offer.sdp").replace(b"m=audio 6000", b"m=video 6000")
    with pytest.raises(SdpNegotiationError, match="no active audio stream"):
        negotiator().create_answer(SessionDescription.parse(raw))


def test_unsupported_stream_is_rejected_with_port_zero() -> None:
    raw = load("sipp-uac-offer.sdp") + b"m=video 6002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    answer, _ = negotiator().create_answer(SessionDescription.parse(raw))
    assert [(m.media, m.port) for m in answer.media] == [("audio", 40000), ("video", 0)]


@pytest.mark.parametrize(
    ("offered", "answered"),
    [("sendrecv", "sendrecv"), ("sendonly", "recvonly"), ("recvonly", "sendonly"), ("inactive", "inactive")],
)
def test_hold_directions(offered: str, answered: str) -> None:
    raw = load("sipp-uac-offer.sdp") + f"a={offered}\r\n".encode()
    answer, media = negotiator().create_answer(SessionDescription.parse(raw))
    assert answer.media[0].direction == answered == media.direction


def test_legacy_hold_c_0000() -> None:
    raw = load("sipp-uac-offer.sdp").replace(b"c=IN IP4 127.0.0.1", b"c=IN IP4 0.0.0.0")
    answer, media = negotiator().create_answer(SessionDescription.parse(raw))
    assert media.direction == "recvonly" and not media.send_enabled
    assert answer.media[0].direction == "recvonly"


def test_local_direction_is_intersected() -> None:
    assert answer_direction("sendrecv", "sendonly") == "sendonly"
    assert answer_direction("sendonly", "sendonly") == "inactive"


def test_offerer_processes_answer() -> None:
    alice, bob = negotiator(40000), negotiator(40002)
    offer = alice.create_offer()
    answer, bob_media = bob.create_answer(offer)
    alice_media = alice.process_answer(answer)
    assert (alice_media.codec, alice_media.remote_port, bob_media.remote_port) == ("PCMU", 40002, 40000)
    hold = alice.create_offer("sendonly")
    answer, bob_media = bob.create_answer(hold)
    assert bob_media.direction == "recvonly" and alice.process_answer(answer).direction == "sendonly"
