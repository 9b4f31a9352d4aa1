"""The API's refusals and how they become HTTP responses.

422 bodies keep FastAPI's validation shape, ``{"detail": [{"loc", "msg", "type"}]}``, so a
client reads every refusal of its input the same way; 503 bodies are ``{"detail": msg}``
with a ``Retry-After`` header.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from app.api.compute import ClientGone, Overloaded
from app.api.jobs import QueueFull, TooManyJobs
from app.api.schemas import ErrorModel


class InvalidInput(Exception):
    """The input passed the schema but not a rule that spans fields or a limit of this server (→ 422)."""

    def __init__(self, message: str, kind: str = "value_error", location: tuple[str, ...] = ("query",)) -> None:
        super().__init__(message)
        self.message, self.kind, self.location = message, kind, location


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers for invalid requests and :class:`InvalidInput` (422), and :class:`Overloaded` (503)."""

    async def invalid(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, InvalidInput)
        return JSONResponse({"detail": [{"loc": list(error.location), "msg": error.message, "type": error.kind}]},
                            status_code=422)

    async def overloaded(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, Overloaded)
        return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": str(error.retry_after)})

    async def queue_full(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, QueueFull)
        return JSONResponse({"detail": str(error)}, status_code=429 if isinstance(error, TooManyJobs) else 503,
                            headers={"Retry-After": str(error.retry_after)})

    async def validation(_: Request, error: Exception) -> JSONResponse:
        # FastAPI's own handler echoes each bad input back: unbounded in size, and a 500 for NaN or a 20-digit
        # integer (not representable in JSON numbers we write). We say where and what, without the echo.
        assert isinstance(error, RequestValidationError)
        return JSONResponse({"detail": refusals(error.errors())}, status_code=422)

    async def gone(_: Request, error: Exception) -> Response:
        # Nobody reads this: the status (nginx's "client closed request") is for the access log.
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    async def http_error(request: Request, error: Exception) -> Response:
        # Starlette's 405 lists the methods of the first route on the path only; a path served by two routes
        # (GET and DELETE /api/v1/jobs/{id}) must list both.
        assert isinstance(error, HTTPException)
        if error.status_code == 405:
            return JSONResponse({"detail": error.detail}, status_code=405,
                                headers={"Allow": _allowed(request, error)})
        return await http_exception_handler(request, error)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(ClientGone, gone)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(InvalidInput, invalid)
    app.add_exception_handler(Overloaded, overloaded)
    app.add_exception_handler(QueueFull, queue_full)


METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _allowed(request: Request, error: HTTPException) -> str:
    """The methods of the path: those Starlette found on the route it matched (its 405's Allow), and those of every
    other operation on the same path in the OpenAPI document (one route per method: GET and DELETE of a job)."""
    methods = {m.strip() for m in (error.headers or {}).get("Allow", "").split(",") if m.strip()}
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}/]+\}", "[^/]+", template), request.url.path):
            methods |= {method.upper() for method in operations if method in METHODS}
    return ", ".join(sorted(methods))


CLIENT_CLOSED_REQUEST = 499
MAX_LISTED = 20      # problems listed in one 422; the rest are counted
MAX_QUOTED = 64      # characters of a name quoted back (a key in the body may be as long as the body)


def refusals(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors as ``{"loc", "msg", "type"}``, bounded: at most ``MAX_LISTED`` of them (then one line counting
    the rest), every quoted name cut to ``MAX_QUOTED`` characters, and never the input itself."""
    def quoted(part: Any) -> Any:
        return part if not isinstance(part, str) or len(part) <= MAX_QUOTED else part[:MAX_QUOTED] + "…"

    listed = [{"loc": [quoted(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in errors[:MAX_LISTED]]
    if len(errors) > MAX_LISTED:
        listed.append({"loc": [], "msg": f"and {len(errors) - MAX_LISTED} more problems like these", "type": "too_many"})
    return listed


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"description": "Busy or too slow: try again after Retry-After seconds.",
          "model": ErrorModel,
          "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}},
}


BODY_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body could not be read as JSON text at all (e.g. not UTF-8).",
          "model": ErrorModel},
    413: {"description": "The body is larger than the server accepts (setting `max_body_bytes`, 1 MiB by default).",
          "model": ErrorModel},
}


def responses(ok: dict[str, Any], body: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses of a route: its 200 (``ok``), the shared errors, and 400 and 413 for routes that read a body."""
    return {200: ok} | ERROR_RESPONSES | (BODY_ERROR_RESPONSES if body else {})
