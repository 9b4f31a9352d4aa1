"""The API's refusals and how they become HTTP responses.

422 bodies keep FastAPI's validation shape, ``{"detail": [{"loc", "msg", "type"}]}``, so a
client reads every refusal of its input the same way; 503 bodies are ``{"detail": msg}``
with a ``Retry-After`` header.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.api.compute import Overloaded
from app.api.schemas import dumps


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

    async def validation(_: Request, error: Exception) -> Response:
        # FastAPI's own handler echoes the input back and fails (500) on NaN/Infinity; ours writes them as null.
        assert isinstance(error, RequestValidationError)
        return Response(dumps({"detail": jsonable_encoder(error.errors())}), status_code=422, media_type="application/json")

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(InvalidInput, invalid)
    app.add_exception_handler(Overloaded, overloaded)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"description": "Busy or too slow: try again after Retry-After seconds.",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorModel"}}},
          "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}},
}


BODY_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body could not be read as JSON text at all (e.g. not UTF-8).",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorModel"}}}},
}


def responses(ok: dict[str, Any], body: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses of a route: its 200 (``ok``), the shared errors, and 400 for routes that read a body."""
    return {200: ok} | ERROR_RESPONSES | (BODY_ERROR_RESPONSES if body else {})
