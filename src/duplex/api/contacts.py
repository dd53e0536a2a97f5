"""CRM contacts: CRUD at /contacts (agents create and edit them from the desktop; deleting is for admins and
supervisors) and the lookup of a phone number in contacts and leads.

Phone numbers are stored as E.164, one row each (`contact_phones`), so a caller is found by an index lookup.
A national number is read in the region given by the body's `region` field or `?region=`; an unparseable
number is a 422 naming its place in the list (`["body", "phones", 1]`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from duplex.api.crud import ALL_ROLES, STAFF, Ctx, Resource, crud_router, set_attributes
from duplex.api.db import DbSession, forbidden
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Input, Output, partial, to_e164
from duplex.auth.deps import CurrentPrincipal
from duplex.db.models import Contact, ContactPhone, Lead, LeadList, Role

__all__ = ["CONTACTS", "ContactRead", "LeadCard", "contacts_by_phone", "lead_cards_by_phone", "router"]

router = APIRouter(route_class=DuplexRoute)

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PhoneIn = Annotated[str, Field(min_length=2, max_length=32)]
MAX_PHONES = 10


class ContactCreate(Input):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    company: Annotated[str | None, Field(max_length=128)] = None
    email: Annotated[str | None, Field(max_length=255, pattern=EMAIL)] = None
    phones: Annotated[
        list[PhoneIn], Field(max_length=MAX_PHONES, description="E.164, or national with region")
    ] = []
    region: Annotated[
        str | None, Field(min_length=2, max_length=2, description="Region of national numbers, e.g. RO.")
    ] = None
    notes: Annotated[str, Field(max_length=4000)] = ""
    custom: dict[str, Any] = Field(
        default_factory=dict, description="The center's own fields (any JSON object)."
    )


class ContactRead(Output):
    id: int
    name: str
    company: str | None
    email: str | None
    phones: list[str]
    notes: str
    custom: dict[str, Any]
    created_by_user_id: int | None
    created_at: dt.datetime

    @field_validator("phones", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        return [p.phone if isinstance(p, ContactPhone) else p for p in value]


def _phone_clause(value: str) -> ColumnElement[bool]:
    number = to_e164(value.strip() if value.strip().startswith("+") else f"+{value.strip()}", region=None,
                     loc=("query", "phone"))  # fmt: skip
    return Contact.id.in_(select(ContactPhone.contact_id).where(ContactPhone.phone == number))


def _text_clause(value: str) -> ColumnElement[bool]:
    pattern = f"%{value.strip().lower()}%"
    return or_(Contact.name.ilike(pattern), Contact.company.ilike(pattern), Contact.email.ilike(pattern))


class ContactFilters(BaseModel):
    phone: Annotated[str | None, Field(max_length=32, description="Contacts with this number (E.164).")] = (
        None
    )
    q: Annotated[str | None, Field(max_length=128, description="Part of the name, company or email.")] = None


def apply_contact(ctx: Ctx, row: Any, data: dict[str, Any]) -> None:
    """Set the fields; `phones` become E.164 rows in the order given (duplicates dropped)."""
    data = dict(data)
    region = data.pop("region", None) or ctx.request.query_params.get("region")
    phones = data.pop("phones", None)
    if row.id is None:
        data.setdefault("created_by_user_id", ctx.principal.user_id)
    set_attributes(ctx, row, data)
    if phones is None:
        return
    numbers: list[str] = []
    for index, raw in enumerate(phones):
        number = to_e164(raw, region=region, loc=("body", "phones", index))
        if number not in numbers:
            numbers.append(number)
    kept = {p.phone: p for p in row.phones}
    row.phones = [kept.get(n) or ContactPhone(phone=n) for n in numbers]
    for position, phone in enumerate(row.phones):
        phone.position = position


def check_contact_write(ctx: Ctx, action: str, row: Any, data: dict[str, Any]) -> None:
    if action == "delete" and ctx.principal.role not in STAFF:
        raise forbidden("only admins and supervisors delete contacts")


def contact_event(ctx: Ctx, row: Any, action: str) -> None:
    """contact.created / contact.updated / contact.deleted beside the generic config.changed."""
    record = ctx.request.app.state.record
    if action == "delete":
        record.append(ctx.session, "contact.deleted", data={"id": row.id})
        return
    phones = [p.phone for p in row.phones]
    record.append(ctx.session, f"contact.{action}d", data={"id": row.id, "name": row.name, "phones": phones})


CONTACTS = Resource(
    path="contacts",
    entity="contact",
    model=Contact,
    read=ContactRead,
    create=ContactCreate,
    update=partial(ContactCreate),
    filters=ContactFilters,
    filter_clauses={"phone": _phone_clause, "q": _text_clause},
    read_roles=ALL_ROLES,
    write_roles=ALL_ROLES,
    check_write=check_contact_write,
    apply=apply_contact,
    after_write=contact_event,
    tags=("contacts",),
)


# ---- lookup by number -----------------------------------------------------------------------------------


class LeadCard(Output):
    """A lead that matches a number, with its list's name."""

    id: int
    list_id: int
    list_name: str
    phone: str
    first_name: str
    last_name: str
    email: str | None
    company: str | None
    status: str
    attempts: int
    last_outcome: str | None
    custom: dict[str, Any]
    created_at: dt.datetime


class LookupResult(BaseModel):
    phone: str  # E.164
    contacts: list[ContactRead]
    leads: list[LeadCard]


def contacts_by_phone(session: Session, e164: str) -> list[Contact]:
    stmt = select(Contact).join(ContactPhone).where(ContactPhone.phone == e164).order_by(Contact.id)
    return list(session.scalars(stmt).unique())


def lead_cards_by_phone(session: Session, e164: str, limit: int = 20) -> list[LeadCard]:
    rows = session.execute(
        select(Lead, LeadList.name).join(LeadList, Lead.list_id == LeadList.id).where(Lead.phone == e164)
        .order_by(Lead.id.desc()).limit(limit)
    ).all()  # fmt: skip
    return [
        LeadCard.model_validate(
            {
                **{k: getattr(lead, k) for k in LeadCard.model_fields if k != "list_name"},
                "list_name": name,
                "status": str(lead.status.value),
            }
        )  # fmt: skip
        for lead, name in rows
    ]


@router.get("/contacts/lookup", response_model=LookupResult, tags=["contacts"])
def lookup_phone(
    phone: Annotated[str, Query(min_length=2, max_length=32)],
    principal: CurrentPrincipal,
    session: DbSession,
    region: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
) -> Any:
    """The contacts with this number and (admins and supervisors) the leads with it, by E.164."""
    number = to_e164(phone, region=region, loc=("query", "phone"))
    if principal.role is Role.AGENT:
        leads: list[LeadCard] = []  # an agent sees leads in the screen pop of their own calls
    else:
        leads = lead_cards_by_phone(session, number)
    contacts = [ContactRead.model_validate(c) for c in contacts_by_phone(session, number)]
    return LookupResult(phone=number, contacts=contacts, leads=leads)


crud_router(CONTACTS, router)  # after /contacts/lookup, so "lookup" is not taken for an id
