"""Drift experiments: one JSON document, or Server-Sent Events as widths finish."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.api.budget import AS_A_JOB, check_budget, drift_estimate, runs_as
from app.api.compute import ClientGone, ComputeService, Overloaded
from app.api.deps import ServiceDep, SettingsDep
from app.api.errors import InvalidInput, responses
from app.api.http import cached_json, kept_stream, pieces, stream_of, url_key
from app.api.schemas import CostResponse, DriftQuery, DriftResponse, drift_document, dumps, width_document
from app.config import Settings
from app.ntk import DriftConfig, DriftResult, WidthResult
from app.ntk.cost import drift_cost

router = APIRouter(prefix="/experiments", tags=["experiments"])
ADVICE = "use fewer or narrower widths (the widest costs most), fewer steps, seeds or snapshots, or a smaller grid"


def core_config(query: DriftQuery) -> DriftConfig:
    """The core's config for ``query``, refused with 422 if the core rejects it."""
    try:
        return query.to_config()
    except ValueError as error:
        raise InvalidInput(str(error)) from None


async def answerable_config(query: DriftQuery, settings: Settings, service: ComputeService) -> DriftConfig:
    """The core's config for ``query``, refused with 422 if the core rejects it, or if it is over the interactive
    budget and not computed already (by a job: then it is in this worker's memory or the shared store)."""
    config = core_config(query)
    cost = drift_cost(config)
    if runs_as(cost, settings) == "job":
        if await service.kept(config) is not None:
            return config
        check_budget(cost, settings, ADVICE + AS_A_JOB)
    check_budget(cost, settings, ADVICE)
    return config


@router.get("/drift/cost", summary="What an experiment would cost on this server, without running it",
            response_model=None, responses=responses({"model": CostResponse}))
async def drift_cost_estimate(query: Annotated[DriftQuery, Query()], settings: SettingsDep) -> Response:
    """The same parameters as the experiment. Nothing is trained: the cost model (app/ntk/cost.py) estimates the
    computing, and says whether the drift endpoints would run it or refuse it (and why), and the nearest settings
    that fit: the most hidden layers, the widest of the requested widths, the most steps. An over-budget experiment
    is an answer here (``fits: false``), not an error; an invalid one is a 422, as for the experiment."""
    return Response(dumps(drift_estimate(core_config(query), settings, ADVICE)), media_type="application/json",
                    headers={"Cache-Control": "no-store"})  # this server's limits, which a restart may change


@router.get("/drift", summary="Train networks of several widths and measure how their kernels move",
            response_model=None, responses=responses({"model": DriftResponse}) | {
                204: {"description": "Asked with `Cache-Control: only-if-cached` for an experiment not computed yet: "
                                     "nothing is computed, nothing is answered."}})
async def drift(query: Annotated[DriftQuery, Query()], request: Request, service: ServiceDep,
                settings: SettingsDep) -> Response:
    """Every parameter has a default, so a URL names a result: identical URLs are answered from cache.

    With ``Cache-Control: only-if-cached`` only an experiment this server has computed already is answered (RFC 9111
    §5.2.1.7): for any other, nothing is computed and the answer is an empty ``204`` at once (not the RFC's ``504``:
    browsers log every 5xx as an error, and the page asks so for every new experiment). The page asks so first, and
    follows the experiment's stream only when it is not kept: a kept experiment's one gzipped document is a third
    smaller than its stream (which sends every width twice: as it finishes, and in the result)."""
    key = document_key(query)
    entry = service.responses.get(key)
    if entry is None:
        config = await answerable_config(query, settings, service)
        if _only_if_cached(request):
            return await drift_kept(query, request, service)
        result = await service.drift(config, gone=request.is_disconnected)
        entry = await service.encoded(key, document_body, query, result)
    service.responses.alias(url_key(request.scope), key)  # repeats of this exact URL skip validation
    return cached_json(request.headers, entry)


@router.get("/drift/kept", summary="The experiment's document if this server has it already, else an empty 204",
            response_model=None, responses=responses({"model": DriftResponse}) | {
                204: {"description": "An experiment not computed yet (or no longer kept): nothing is computed, nothing "
                                     "is answered."}})
async def drift_kept(query: Annotated[DriftQuery, Query()], request: Request, service: ServiceDep) -> Response:
    """The same parameters and the same document as ``GET …/drift``, answered only when the experiment is computed
    already (kept in this worker's memory or in the shared store); any other gets an empty ``204`` at once, whatever
    it would cost. The same answer as ``…/drift`` asked with ``Cache-Control: only-if-cached``, at an address of its
    own so that a page can preload it (``<link rel="preload" as="fetch">`` sends no header): the page asks here
    first, and follows the experiment's stream only when it is not kept."""
    key = document_key(query)
    entry = service.responses.get(key)
    if entry is None:
        result = await service.kept(core_config(query))
        if result is None:
            return Response(status_code=204, headers={"Cache-Control": "no-store"})
        entry = await service.encoded(key, document_body, query, result)
    service.responses.alias(url_key(request.scope), key)  # repeats of this exact URL skip validation
    return cached_json(request.headers, entry)


@router.get("/drift/stream", summary="The same experiment as Server-Sent Events, one event per finished width",
            response_class=StreamingResponse,
            responses=responses({"content": {"text/event-stream": {}},
                                 "description": "`event: width` per finished width (data: one entry of `widths`), then "
                                                "`event: result` (data: the whole document), or `event: error`."}))
async def drift_stream(query: Annotated[DriftQuery, Query()], request: Request, service: ServiceDep,
                       settings: SettingsDep) -> StreamingResponse:
    """A finished experiment is replayed from its events encoded once and kept, so a replay costs no encoding and
    holds no copy of its own; a running one is followed as its widths finish."""
    config = await answerable_config(query, settings, service)
    finished = service.finished(config)
    if finished is not None:
        key = "events:" + document_key(query)
        replay = await service.encoded(key, replay_body, query, finished)
        service.responses.alias(url_key(request.scope), key)  # repeats of this exact URL skip validation
        return kept_stream(request.headers, replay)
    events = service.drift_stream(config, gone=request.is_disconnected)
    try:
        first = await anext(events)  # overload and errors before the first event are plain HTTP errors
    except (Overloaded, ClientGone):
        await events.aclose()
        raise
    return stream_of(request.headers, _follow(query, first, events, service))


def _only_if_cached(request: Request) -> bool:
    directives = request.headers.get("cache-control", "").lower().replace(" ", "").split(",")
    return "only-if-cached" in directives


def document_key(query: DriftQuery) -> str:
    """The cache key of the experiment's JSON document: canonical, so parameter order and defaults do not matter."""
    return f"drift:{sorted(query.model_dump().items())}"


def document_body(query: DriftQuery, result: DriftResult) -> bytes:
    return dumps(drift_document(query, result))


def replay_body(query: DriftQuery, result: DriftResult) -> bytes:
    """Every event of a finished experiment: one per width, then the result."""
    return b"".join([*(_event("width", dumps(width_document(width))) for width in result.widths),
                     _event("result", document_body(query, result))])


async def _follow(query: DriftQuery, first: WidthResult | DriftResult,
                  rest: AsyncGenerator[WidthResult | DriftResult, None], service: ComputeService) -> AsyncIterator[bytes]:
    """The events of a running experiment as it goes; the final document is encoded once for every listener (and
    kept: the plain GET of the same experiment then answers from it)."""
    item = first
    try:
        while True:
            if isinstance(item, DriftResult):
                document = await service.encoded(document_key(query), document_body, query, item)
                yield b"event: result\ndata: "
                async for piece in pieces(document.body):
                    yield piece
                yield b"\n\n"
                return
            async for piece in pieces(_event("width", dumps(width_document(item)))):
                yield piece
            item = await anext(rest)
    except Overloaded as error:
        yield _event("error", dumps({"detail": str(error), "retry_after": error.retry_after}))
    finally:
        await rest.aclose()


def _event(name: str, data: bytes) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"
