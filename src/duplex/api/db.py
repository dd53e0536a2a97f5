"""One transaction per request, and the mapping of database errors to HTTP answers.

`DbSession` opens a session when a route needs it and commits after the route returned, *before* the
response is sent (dependency scope "function"); any exception - an HTTPException, a validation error, a bug -
rolls everything back, so a failed request writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

# PostgreSQL SQLSTATEs and the SQLite messages for the same constraint kinds.
_UNIQUE = ("23505", "UNIQUE constraint failed")
_FOREIGN_KEY = ("23503", "FOREIGN KEY constraint failed")


def integrity_http_error(exc: IntegrityError) -> HTTPException:
    """409 for a duplicate unique key; 422 for a missing referenced row or a failed CHECK / NOT NULL."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    message = str(orig)
    if sqlstate == _UNIQUE[0] or _UNIQUE[1] in message:
        return HTTPException(status.HTTP_409_CONFLICT, f"already exists: {_first_line(message)}")
    if sqlstate == _FOREIGN_KEY[0] or _FOREIGN_KEY[1] in message:
        return HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"a referenced row does not exist (or is still referenced): {_first_line(message)}",
        )
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, f"constraint violated: {_first_line(message)}"
    )


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "integrity error"


def flush(session: Session) -> None:
    """Flush now so constraint violations surface inside the route, mapped to 409/422."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise integrity_http_error(exc) from exc


def get_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.sessions()
    try:
        yield session
        try:
            session.commit()
        except IntegrityError as exc:
            raise integrity_http_error(exc) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_session, scope="function")]


def field_error(loc: tuple[str | int, ...], msg: str, value: Any = None) -> RequestValidationError:
    """A 422 in FastAPI's own shape, naming the field path (e.g. ("body", "phone"))."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg, "input": value}])


def not_found(entity: str, ident: object) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{entity} {ident} not found")


def forbidden(detail: str = "not allowed for your role") -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail)
