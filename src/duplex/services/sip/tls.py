"""TLS for SIP (RFC 3261 §26.2.1, port 5061): the server and client ``ssl.SSLContext`` and a self-signed
certificate for demos.

RFC 3261 §26.3.1: "Proxy servers, redirect servers, and registrars SHOULD possess a site certificate whose
subject corresponds to their canonical hostname". An operator configures one (``sip_tls_certfile``); without it
`ensure_self_signed` makes a self-signed one with the ``openssl`` command line tool, kept in the data directory
and reused, so `make run` offers TLS at once (phones must then be told not to verify, or to trust that file).
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from duplex.config import Settings
    from duplex.services.sip.transport import SipTransport

__all__ = ["client_context", "configure_tls", "ensure_self_signed", "server_context"]

log = logging.getLogger("duplex.services.sip.tls")


def server_context(certfile: str | Path, keyfile: str | Path | None = None) -> ssl.SSLContext:
    """A TLS 1.2+ server context with the PEM certificate chain and key (the key may be inside `certfile`)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
    return context


def client_context(*, cafile: str | Path | None = None, verify: bool = True) -> ssl.SSLContext:
    """The context for outbound TLS (to trunks): the system CAs (or `cafile`), host name checked, unless
    `verify` is False (a test carrier with a self-signed certificate)."""
    context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def ensure_self_signed(directory: Path, host: str = "localhost", *, days: int = 825) -> tuple[Path, Path]:
    """`directory`/sip-tls.crt and .key, made once (RSA 2048, SHA-256, SAN = `host`, localhost, 127.0.0.1).

    Raises:
        OSError: openssl is missing or failed.
    """
    cert, key = directory / "sip-tls.crt", directory / "sip-tls.key"
    if cert.exists() and key.exists():
        return cert, key
    directory.mkdir(parents=True, exist_ok=True)
    names = dict.fromkeys([host, "localhost", "127.0.0.1"])
    san = ",".join(f"IP:{n}" if _is_ip(n) else f"DNS:{n}" for n in names if n and n != "0.0.0.0")
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", str(days),
               "-subj", f"/CN={host}/O=Duplex self-signed", "-addext", f"subjectAltName={san}",
               "-keyout", str(key), "-out", str(cert)]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise OSError(f"openssl could not make a self-signed certificate: {exc}") from exc
    key.chmod(0o600)
    log.warning("SIP TLS uses a new self-signed certificate %s (set sip_tls_certfile for a real one)", cert)
    return cert, key


def configure_tls(transport: SipTransport, settings: Settings) -> None:
    """Give `transport` its outbound TLS context and, when ``sip_tls_enabled``, a listener on ``sip_tls_port``
    with the configured certificate (or the self-signed one in ``data_dir``/tls). Call before `start`."""
    transport.tls_client = client_context(
        cafile=settings.sip_tls_cafile or None, verify=settings.sip_tls_verify
    )
    if not settings.sip_tls_enabled:
        return
    if settings.sip_tls_certfile:
        cert, key = (
            Path(settings.sip_tls_certfile),
            Path(settings.sip_tls_keyfile) if settings.sip_tls_keyfile else None,
        )
    else:
        host = settings.public_ip if settings.public_ip not in ("", "0.0.0.0") else "localhost"
        cert, key = ensure_self_signed(settings.data_dir / "tls", host)
    transport.tls = server_context(cert, key)
    transport.tls_port = settings.sip_tls_port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
