"""Events of the SIP transaction and dialog layers (RFC 3261 §17, §12, §13).

Rules of this module (h11 style):

1. Events are immutable values: ``@dataclass(frozen=True, slots=True, kw_only=True)``, never subclassed.
2. A layer emits events to the layer above (transaction -> TU/dialog -> call); it never calls upward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from duplex.sip.message import SipRequest, SipResponse

__all__ = [
    "AckReceived",
    "AckTimeout",
    "Address",
    "CancelReceived",
    "DialogEstablished",
    "DialogTerminated",
    "Event",
    "RequestReceived",
    "ResponseReceived",
    "StrayResponseReceived",
    "TransactionKey",
    "TransactionTerminated",
    "TransactionTimeout",
    "TransportError",
]

Address: TypeAlias = tuple[str, int]


@dataclass(frozen=True, slots=True)
class TransactionKey:
    """Identity of a transaction (RFC 3261 §17.1.3 and §17.2.3).

    Client transactions are keyed by ``(branch, CSeq method)``; server transactions additionally by the
    sent-by of the top Via ("the branch parameter ... the sent-by value in the top Via ... and the method").
    ACK is folded into INVITE: "the method of the request matches the one that created the transaction,
    except for ACK, where the method of the request that created the transaction is INVITE".
    """

    branch: str
    method: str
    sent_by: str | None = None

    @property
    def is_server(self) -> bool:
        return self.sent_by is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReceived:
    """A new request for the TU; ``key`` is its server transaction."""

    request: SipRequest
    key: TransactionKey
    addr: Address


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseReceived:
    """A response passed up by a client transaction ("passed up to the TU")."""

    response: SipResponse
    key: TransactionKey


@dataclass(frozen=True, slots=True, kw_only=True)
class StrayResponseReceived:
    """A response that matched no client transaction (RFC 3261 §18.1.2, RFC 6026 §8.2).

    2xx to INVITE retransmissions arrive here once the INVITE client transaction is gone; the UAC core
    answers them by retransmitting its ACK (RFC 3261 §13.2.2.4).
    """

    response: SipResponse
    addr: Address


@dataclass(frozen=True, slots=True, kw_only=True)
class AckReceived:
    """An ACK that matched no INVITE server transaction in Completed state: the ACK for a 2xx (§17.2.3)."""

    request: SipRequest
    addr: Address


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelReceived:
    """A CANCEL matched a pending INVITE server transaction (RFC 3261 §9.2).

    The transaction layer has already answered 200 to the CANCEL and 487 to the INVITE.
    """

    request: SipRequest
    invite_key: TransactionKey


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionTimeout:
    """Timer B, F or H fired: "the client transaction SHOULD inform the TU that a timeout has occurred".

    For client transactions the TU treats this like a 408 (RFC 3261 §8.1.3.1).
    """

    key: TransactionKey
    timer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportError:
    """The transport reported a failure for this transaction (RFC 3261 §17.1.4, §17.2.4)."""

    key: TransactionKey


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionTerminated:
    """The transaction reached the Terminated state and was destroyed."""

    key: TransactionKey


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogEstablished:
    """A dialog was created or confirmed (RFC 3261 §12.1)."""

    dialog_id: tuple[str, str, str]
    early: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogTerminated:
    """A dialog ended: BYE, 481/408 to an in-dialog request, or a missing ACK (RFC 3261 §12.3, §13.3.1.4)."""

    dialog_id: tuple[str, str, str]
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AckTimeout:
    """No ACK came for a 2xx within 64*T1; "the session SHOULD be terminated ... with a BYE" (§13.3.1.4)."""

    dialog_id: tuple[str, str, str]


Event: TypeAlias = (
    RequestReceived
    | ResponseReceived
    | StrayResponseReceived
    | AckReceived
    | CancelReceived
    | TransactionTimeout
    | TransportError
    | TransactionTerminated
    | DialogEstablished
    | DialogTerminated
    | AckTimeout
)
