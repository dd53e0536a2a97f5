"""One generic CRUD router factory; each resource is a `Resource` with a few hooks.

Routes made for a resource at `/<path>`:
  GET    /<path>?limit=&offset=&<filters>   -> {items, total, limit, offset}, sorted by id
  POST   /<path>                            -> 201 + the new row
  GET    /<path>/{id}                       -> the row (404 if unknown or not visible to the caller)
  PATCH  /<path>/{id}                       -> partial update
  DELETE /<path>/{id}                       -> 204
Every write runs in the request's transaction, flushes (so 409/422 surface here), emits `config.changed`
and, for admins and supervisors, writes an audit row.

This module deliberately has no `from __future__ import annotations`: the route functions are built in a
closure and FastAPI must see each resource's schema classes, not their names.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, create_model
from sqlalchemy import ColumnElement, Select, delete, func, select
from sqlalchemy.orm import Session

from duplex.api.audit import record_write
from duplex.api.db import DbSession, flush, forbidden, not_found
from duplex.api.routing import DuplexRoute
from duplex.auth.deps import Principal, require_role
from duplex.db.models import Role

ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.ADMIN, Role.SUPERVISOR})
ADMIN_ONLY = frozenset({Role.ADMIN})


@dataclass(frozen=True, slots=True, kw_only=True)
class Ctx:
    """What a hook may use: the request's session, the request and the caller."""

    session: Session
    request: Request
    principal: Principal


ScopeFn = Callable[[Principal, Select[Any]], Select[Any]]
CheckFn = Callable[[Ctx, str, Any, dict[str, Any]], None]  # (ctx, action, row or None, data); raises 403
ApplyFn = Callable[[Ctx, Any, dict[str, Any]], None]
AfterFn = Callable[[Ctx, Any, str], None]


def set_attributes(ctx: Ctx, row: Any, data: dict[str, Any]) -> None:
    for key, value in data.items():
        setattr(row, key, value)


class NoFilters(BaseModel):
    pass


class PageParams(BaseModel):
    limit: int = 50
    offset: int = 0


def page_params(
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


@functools.cache
def page_of(read: type[BaseModel]) -> type[BaseModel]:
    """The response envelope `{items, total, limit, offset}` for a read schema."""
    return create_model(
        f"{read.__name__}Page",
        items=(list[read], ...),  # type: ignore[valid-type]
        total=(int, ...),
        limit=(int, ...),
        offset=(int, ...),
    )


@dataclass(frozen=True, kw_only=True)
class Resource:
    path: str  # URL segment, e.g. "phone-numbers"
    entity: str  # name in events and audit rows, e.g. "phone_number"
    model: type[Any]
    read: type[BaseModel]
    create: type[BaseModel] | None = None  # None: no POST
    update: type[BaseModel] | None = None  # None: no PATCH
    deletable: bool = True
    filters: type[BaseModel] = NoFilters
    filter_clauses: dict[str, Callable[[Any], ColumnElement[bool]]] = field(default_factory=dict)
    # Instead of one clause per filter: (stmt, the filters given) -> stmt, e.g. one subquery for several
    filter_stmt: Callable[[Select[Any], dict[str, Any]], Select[Any]] | None = None
    read_roles: frozenset[Role] = ALL_ROLES
    write_roles: frozenset[Role] = ADMIN_ONLY
    scope: ScopeFn | None = None
    check_write: CheckFn | None = None
    apply: ApplyFn = set_attributes
    after_write: AfterFn | None = None
    after_read: Callable[[Ctx, Any], None] | None = None  # e.g. audit every access to a recording
    id_type: type = int
    tags: tuple[str, ...] = ()

    def visible(self, principal: Principal, stmt: Select[Any]) -> Select[Any]:
        return self.scope(principal, stmt) if self.scope is not None else stmt

    def load(self, ctx: Ctx, ident: object) -> Any:
        """The row with id `ident` if the caller may see it, else 404."""
        row = ctx.session.scalar(
            self.visible(ctx.principal, select(self.model).where(self.model.id == ident))
        )
        if row is None:
            raise not_found(self.entity, ident)
        return row

    def write(self, ctx: Ctx, action: str, row: Any, data: dict[str, Any]) -> Any:
        """Apply `data` to `row` (None: a new row), flush, run hooks, record the change."""
        if self.check_write is not None:
            self.check_write(ctx, action, row, data)
        if row is None:
            row = self.model()
            ctx.session.add(row)
        self.apply(ctx, row, data)
        flush(ctx.session)
        if self.after_write is not None:
            self.after_write(ctx, row, action)
            flush(ctx.session)
        record_write(ctx.session, ctx.request, ctx.principal, entity=self.entity, ident=row.id, action=action)
        return row

    def check_role(self, principal: Principal, *, write: bool) -> None:
        """For extra routes of a resource: 403 unless the caller's role may read (or write) it."""
        if principal.role not in (self.write_roles if write else self.read_roles):
            raise forbidden(f"role {principal.role.value!r} may not do this")

    def reader(self) -> Callable[..., Principal]:
        return require_role(*self.read_roles)

    def writer(self) -> Callable[..., Principal]:
        return require_role(*self.write_roles)


def list_page(
    session: Session, stmt: Select[Any], model: type[Any], read: type[BaseModel], page: PageParams
) -> dict[str, Any]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(stmt.order_by(model.id).limit(page.limit).offset(page.offset))
    items = [read.model_validate(r) for r in rows]
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


def crud_router(res: Resource, router: APIRouter | None = None) -> APIRouter:
    """Add the CRUD routes of `res` to `router` (a new one if None) and return it."""
    router = router if router is not None else APIRouter(route_class=DuplexRoute)
    Reader = Annotated[Principal, Depends(res.reader())]
    Writer = Annotated[Principal, Depends(res.writer())]
    Filters = Annotated[res.filters, Query()]  # type: ignore[name-defined]
    IdType = res.id_type
    tags: list[str | Any] = list(res.tags or (res.path,))

    @router.get(f"/{res.path}", response_model=page_of(res.read), tags=tags, name=f"list_{res.entity}")
    def list_rows(
        principal: Reader,
        session: DbSession,
        filters: Filters,
        page: Annotated[PageParams, Depends(page_params)],
    ) -> dict[str, Any]:
        stmt = res.visible(principal, select(res.model))
        given = filters.model_dump(exclude_none=True)
        if res.filter_stmt is not None:
            given, stmt = {}, res.filter_stmt(stmt, given)
        for name, value in given.items():
            clause = res.filter_clauses.get(name)
            stmt = stmt.where(clause(value) if clause else getattr(res.model, name) == value)
        return list_page(session, stmt, res.model, res.read, page)

    @router.get(f"/{res.path}/{{item_id}}", response_model=res.read, tags=tags, name=f"get_{res.entity}")
    def get_row(item_id: IdType, request: Request, principal: Reader, session: DbSession) -> Any:  # type: ignore[valid-type]
        ctx = Ctx(session=session, request=request, principal=principal)
        row = res.load(ctx, item_id)
        if res.after_read is not None:
            res.after_read(ctx, row)
        return row

    if res.create is not None:
        Create = res.create

        @router.post(
            f"/{res.path}", status_code=201, response_model=res.read, tags=tags, name=f"create_{res.entity}"
        )
        def create_row(body: Create, request: Request, principal: Writer, session: DbSession) -> Any:  # type: ignore[valid-type]
            ctx = Ctx(session=session, request=request, principal=principal)
            return res.write(ctx, "create", None, body.model_dump(by_alias=True))  # type: ignore[attr-defined]

    if res.update is not None:
        Update = res.update

        @router.patch(
            f"/{res.path}/{{item_id}}", response_model=res.read, tags=tags, name=f"update_{res.entity}"
        )
        def update_row(
            item_id: IdType,  # type: ignore[valid-type]
            body: Update,  # type: ignore[valid-type]
            request: Request,
            principal: Writer,
            session: DbSession,
        ) -> Any:
            ctx = Ctx(session=session, request=request, principal=principal)
            row = res.load(ctx, item_id)
            return res.write(ctx, "update", row, body.model_dump(exclude_unset=True, by_alias=True))  # type: ignore[attr-defined]

    if res.deletable and res.create is not None:

        @router.delete(f"/{res.path}/{{item_id}}", status_code=204, tags=tags, name=f"delete_{res.entity}")
        def delete_row(item_id: IdType, request: Request, principal: Writer, session: DbSession) -> Response:  # type: ignore[valid-type]
            ctx = Ctx(session=session, request=request, principal=principal)
            row = res.load(ctx, item_id)
            if res.check_write is not None:
                res.check_write(ctx, "delete", row, {})
            if res.after_write is not None:
                res.after_write(ctx, row, "delete")
            ident = row.id
            session.delete(row)
            flush(session)
            record_write(session, request, principal, entity=res.entity, ident=ident, action="delete")
            return Response(status_code=204)

    return router


def add_link_routes(
    router: APIRouter,
    res: Resource,
    *,
    name: str,
    link_model: type[Any],
    parent_fk: str,
    item: type[BaseModel],
) -> None:
    """GET/PUT `/<path>/{id}/<name>`: read or replace the set of link rows (e.g. a queue's members)."""
    Reader = Annotated[Principal, Depends(res.reader())]
    Writer = Annotated[Principal, Depends(res.writer())]
    tags: list[str | Any] = list(res.tags or (res.path,))
    fk = getattr(link_model, parent_fk)

    def current(session: Session, ident: object) -> list[Any]:
        rows = session.scalars(select(link_model).where(fk == ident))
        return [item.model_validate(r) for r in rows]

    @router.get(f"/{res.path}/{{item_id}}/{name}", response_model=list[item], tags=tags)  # type: ignore[valid-type]
    def get_links(item_id: int, request: Request, principal: Reader, session: DbSession) -> list[Any]:
        res.load(Ctx(session=session, request=request, principal=principal), item_id)
        return current(session, item_id)

    @router.put(f"/{res.path}/{{item_id}}/{name}", response_model=list[item], tags=tags)  # type: ignore[valid-type]
    def put_links(
        item_id: int,
        body: list[item],  # type: ignore[valid-type]
        request: Request,
        principal: Writer,
        session: DbSession,
    ) -> list[Any]:
        ctx = Ctx(session=session, request=request, principal=principal)
        row = res.load(ctx, item_id)
        if res.check_write is not None:
            res.check_write(ctx, "update", row, {})
        session.execute(delete(link_model).where(fk == item_id))
        for entry in body:
            session.add(link_model(**{parent_fk: item_id, **entry.model_dump()}))  # type: ignore[attr-defined]
        flush(session)
        record_write(session, request, principal, entity=res.entity, ident=item_id, action=f"{name}.set")
        return current(session, item_id)
