"""SIP TLS set-up without sockets: the self-signed certificate, the contexts, settings, Via transport names."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

from duplex.config import Settings
from duplex.services.sip.tls import client_context, configure_tls, ensure_self_signed, server_context
from duplex.services.sip.transport import SipTransport


class _NoCore:
    def receive(self, message: object, addr: object, now: float) -> None: ...

    def datagrams_to_send(self) -> list[tuple[bytes, tuple[str, int]]]:
        return []

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None: ...


def test_self_signed_certificate_is_made_once_with_the_host_in_its_san(tmp_path: Path) -> None:
    cert, key = ensure_self_signed(tmp_path / "tls", "sip.example.test")
    assert key.stat().st_mode & 0o777 == 0o600
    text = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-text"], check=True,
                          capture_output=True, text=True).stdout  # fmt: skip
    assert "DNS:sip.example.test" in text and "DNS:localhost" in text and "IP Address:127.0.0.1" in text
    assert "sha256WithRSAEncryption" in text
    before = cert.read_bytes()
    assert ensure_self_signed(tmp_path / "tls", "other.test") == (cert, key)
    assert cert.read_bytes() == before  # reused, not remade
    server = server_context(cert, key)
    assert server.minimum_version == ssl.TLSVersion.TLSv1_2
    trusting = client_context(cafile=cert)
    assert trusting.verify_mode == ssl.CERT_REQUIRED and trusting.check_hostname
    lax = client_context(verify=False)
    assert lax.verify_mode == ssl.CERT_NONE and not lax.check_hostname


def test_configure_tls_from_settings(tmp_path: Path) -> None:
    off = SipTransport(_NoCore())
    configure_tls(off, Settings(data_dir=tmp_path / "a"))
    assert off.tls is None and off.tls_client is not None and off.tls_client.verify_mode == ssl.CERT_REQUIRED
    assert not (tmp_path / "a" / "tls").exists()  # no certificate is made while TLS is off
    on = SipTransport(_NoCore())
    configure_tls(
        on, Settings(data_dir=tmp_path / "b", sip_tls_enabled=True, sip_tls_port=0, sip_tls_verify=False)
    )
    assert on.tls is not None and on.tls_port == 0 and (tmp_path / "b" / "tls" / "sip-tls.crt").exists()
    assert on.tls_client is not None and on.tls_client.verify_mode == ssl.CERT_NONE
    cert, key = ensure_self_signed(tmp_path / "own")
    own = SipTransport(_NoCore())
    configure_tls(own, Settings(data_dir=tmp_path / "c", sip_tls_enabled=True, sip_tls_certfile=str(cert),
                                sip_tls_keyfile=str(key)))  # fmt: skip
    assert own.tls is not None and own.tls_port == 5061 and not (tmp_path / "c" / "tls").exists()


def test_via_transport_names_follow_the_stream_targets() -> None:
    transport = SipTransport(_NoCore())
    carrier, pbx, phone = ("192.0.2.10", 5061), ("192.0.2.11", 5060), ("192.0.2.12", 5060)
    transport.use_stream(carrier, "TLS", "carrier.example.test")
    transport.use_stream(pbx, "tcp")
    transport.use_stream(phone, "udp")
    assert [transport.name_for(a) for a in (carrier, pbx, phone)] == ["TLS", "TCP", "UDP"]
    assert [transport.is_reliable(a) for a in (carrier, pbx, phone)] == [True, True, False]
    assert transport.tls_names == {carrier: "carrier.example.test"}
