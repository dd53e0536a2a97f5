"""Audit rows and `config.changed` events, written in the request's own transaction."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from duplex.auth.deps import Principal
from duplex.db.models import AuditLog, Role

AUDITED_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})


def client_address(request: Request) -> str:
    return (request.client.host if request.client else "")[:64]


def audit(
    session: Session,
    request: Request,
    principal: Principal,
    action: str,
    *,
    target_type: str = "",
    target_id: object = "",
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditLog(
            user_id=principal.user_id,
            api_key_id=principal.api_key_id,
            action=action[:64],
            target_type=target_type[:32],
            target_id=str(target_id)[:64],
            address=client_address(request),
            detail=detail or {},
        )
    )


def record_write(
    session: Session,
    request: Request,
    principal: Principal,
    *,
    entity: str,
    ident: object,
    action: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """A configuration write: a `config.changed` event always, an audit row for admins and supervisors."""
    request.app.state.record.append(
        session, "config.changed", data={"entity": entity, "id": ident, "action": action}
    )
    if principal.role in AUDITED_ROLES:
        audit(
            session,
            request,
            principal,
            f"{entity}.{action}",
            target_type=entity,
            target_id=ident,
            detail=detail,
        )
