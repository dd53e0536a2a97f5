"""Errors of the SIP message layer: each has a direction and a wire status code.

Two rules (after h11): a ``RemoteProtocolError`` means the peer sent something we could not accept and
``status_code`` is the response a UAS should send back (a UAC drops the message); a ``LocalProtocolError``
means our own code tried to build or send something invalid.
"""

from __future__ import annotations

__all__ = [
    "LocalProtocolError",
    "RemoteProtocolError",
    "SipError",
    "SipParseError",
]


class SipError(Exception):
    """Abstract base class of all SIP protocol errors. Do not instantiate directly.

    Attributes:
        reason: human readable explanation (also usable as a reason phrase).
        status_code: the SIP response code that describes the problem (400 unless stated).
    """

    def __init__(self, reason: str, status_code: int = 400) -> None:
        if type(self) is SipError:
            raise TypeError("SipError is abstract; raise LocalProtocolError or RemoteProtocolError")
        if not 300 <= status_code <= 699:
            raise ValueError(f"status_code must be an error code 300..699, got {status_code}")
        super().__init__(reason, status_code)
        self.reason = reason
        self.status_code = status_code

    def __str__(self) -> str:
        return f"{self.status_code} {self.reason}"


class LocalProtocolError(SipError):
    """We (the local side) tried to create or send an invalid message or use the API wrongly."""


class RemoteProtocolError(SipError):
    """The peer sent bytes that violate SIP.

    Typical ``status_code`` values: 400 Bad Request (default), 413 Request Entity Too Large, 414 Request-URI
    Too Long, 416 Unsupported URI Scheme, 420 Bad Extension, 505 Version Not Supported, 513 Message Too Large.
    """


class SipParseError(RemoteProtocolError):
    """Raised by the parsers (`parse_message`, `StreamFramer`, URI and header parsers) on malformed input."""
