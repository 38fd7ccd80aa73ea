"""The one boundary where exceptions become HTTP responses (`{"detail": ...}`)."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg.errors import UndefinedColumn, UndefinedTable
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from server.backend.core import lanes
from server.backend.core.embedded import EMBEDDED_MESSAGES, embedded_problem
from server.backend.errors import AuthError, BusyError, SontaServerError, TooManyRequestsError

logger = logging.getLogger(__name__)
UndefinedObject = (UndefinedTable, UndefinedColumn)
# What a caller who is not a signed-in admin hears about a server-side failure: the
# details (an operator's message, addresses, paths) go to the log and to admins only.
TEMPORARILY_UNAVAILABLE = "This service is temporarily unavailable; please try again shortly."


def is_signed_in_admin(request: Request) -> bool:
    """A valid admin access token on the request (signature and times; no database)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    backend = getattr(request.app.state, "backend", None)
    if scheme.lower() != "bearer" or not token or backend is None:
        return False
    try:
        backend.tokens.verify(token.strip(), "access")
    except AuthError:
        return False
    return True


class _AsciiJSONResponse(JSONResponse):
    """JSON escaped to ASCII, so any text a client sent can be echoed without failing."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def _json(status: int, detail: object, headers: dict[str, str] | None = None) -> JSONResponse:
    return _AsciiJSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    # Where and why, without echoing the input: it may be large, or not even encodable
    # (a lone surrogate made the stock handler fail with a 500).
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return _json(422, jsonable_encoder(errors))


async def _sonta_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SontaServerError)
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyRequestsError | BusyError):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, AuthError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, BusyError):
        logger.warning("%s %s: %s", request.method, request.url.path, exc.message)
        return _json(exc.status_code, exc.message, headers)
    if exc.status_code >= 500:
        logger.error("%s %s: %s", request.method, request.url.path, exc.message)
        if not is_signed_in_admin(request):
            return _json(exc.status_code, TEMPORARILY_UNAVAILABLE, headers)
    detail = exc.message if exc.details is None else {"message": exc.message, **exc.details}
    return _json(exc.status_code, detail, headers)


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    # Values the schemas let through but the database refuses (e.g. out of range).
    logger.info("database refused a value: %s", exc)
    return _json(422, "A value is out of range or not valid for storage.")


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.info("integrity conflict: %s", exc)
    return _json(409, "The change conflicts with existing records.")


async def _pool_busy(request: Request, exc: Exception) -> JSONResponse:
    # Every connection is in use: the database is fine, this replica is at capacity.
    logger.warning("%s %s: database pool busy: %s", request.method, request.url.path, exc)
    return _json(503, lanes.BUSY_GENERIC, {"Retry-After": str(lanes.BUSY_RETRY_AFTER)})


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    problem = embedded_problem(exc)
    if problem is not None:
        # The embedded database names its own trouble; say it instead of "unavailable".
        request.app.state.backend.embedded_trouble.note(problem)
        logger.error("%s %s: %s", request.method, request.url.path, EMBEDDED_MESSAGES[problem])
        status, retry = (507, None) if problem == "full" else (503, "5")
        headers = {"Retry-After": retry} if retry else None
        return _json(status, EMBEDDED_MESSAGES[problem], headers)
    logger.error("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    return _json(503, "The database is unavailable; try again shortly.")


async def _programming_error(request: Request, exc: Exception) -> JSONResponse:
    # A missing table or column means the schema is behind the code, not a bad request.
    if isinstance(exc, ProgrammingError) and isinstance(exc.orig, UndefinedObject):
        logger.error("database schema is not migrated: %s", exc.orig)
        return _json(503, "The database schema is not up to date; run `sonta migrate`.")
    logger.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _json(500, "Internal server error.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(SontaServerError, _sonta_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(PoolTimeoutError, _pool_busy)
    app.add_exception_handler(ProgrammingError, _programming_error)
