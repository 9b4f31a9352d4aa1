"""Jobs: experiments too long to answer at once, queued, followed, cancelled (app/api/jobs.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.budget import job_problem
from app.api.compute import result_key
from app.api.deps import JobsDep, ServiceDep, SettingsDep
from app.api.errors import InvalidInput, responses
from app.api.jobs import POLL_S, JobRequest, JobStatus, client_of
from app.api.routes.experiments import ADVICE, core_config
from app.api.schemas import DriftQuery, JobResponse, dumps, job_document
from app.config import Settings
from app.ntk import DriftConfig
from app.ntk.cost import drift_cost

router = APIRouter(prefix="/jobs", tags=["jobs"])
JobId = Annotated[str, Path(max_length=64, description="A ticket's id, from POST /api/v1/jobs.")]
DRIFT_PATH = "/api/v1/experiments/drift"
KEEP_ALIVE_S = 15.0  # a comment line on a quiet event stream, so proxies keep it open
NO_STORE = {"Cache-Control": "no-store"}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No job has this id here."}}
UNKNOWN = "no job has this id here (finished jobs are forgotten after a day; their results stay at their URL)"


def _weights(config: DriftConfig) -> tuple[float, ...]:
    """Each width's share of the estimated cost (progress is reported in these shares)."""
    return tuple(drift_cost(dataclasses.replace(config, widths=(width,))).seconds for width in config.widths)


def _params(query: DriftQuery) -> dict[str, object]:
    return {name: value for name, value in query.model_dump().items() if value is not None}


def _document(status: JobStatus) -> dict[str, object]:
    return job_document(status, f"{DRIFT_PATH}?{urlencode(status.params)}")


def _answer(status: JobStatus, code: int = 200) -> JSONResponse:
    return JSONResponse(_document(status), status_code=code,
                        headers={**NO_STORE, "Location": f"/api/v1/jobs/{status.id}"})


def job_request(query: DriftQuery, config: DriftConfig, settings: Settings, client: str) -> JobRequest:
    return JobRequest(params=_params(query), config=config, key=result_key(config),
                      estimate_s=drift_cost(config).seconds / settings.machine_speed, weights=_weights(config),
                      client=client)


@router.post("", summary="Queue an experiment too long to answer at once", status_code=202, response_model=None,
             responses=responses({"model": JobResponse, "description": "Queued (or already queued or running)."}) | {
                 200: {"model": JobResponse, "description": "Already computed: the job is done."},
                 429: {"description": "This client has too many unfinished jobs (Retry-After)."}})
async def submit(query: Annotated[DriftQuery, Query()], request: Request, service: ServiceDep, jobs: JobsDep,
                 settings: SettingsDep) -> JSONResponse:
    """The same parameters as the drift experiment. Anything within a job's limits is accepted (over them: 422);
    the answer is a ticket whose id names the job. The same client asking again gets its ticket back; every client
    asking for the same experiment shares one computation. A full queue is a 503, a client with too many unfinished
    jobs a 429, both with Retry-After."""
    config = core_config(query)
    problem = job_problem(config, settings, ADVICE)
    if problem is not None:
        raise InvalidInput(problem, "compute_budget")
    job = job_request(query, config, settings, client_of(request.client.host if request.client else None))
    if await service.kept(config) is not None:
        return _answer(await jobs.done_ticket(job))
    status = await jobs.submit(job)
    return _answer(status, 200 if status.state == "done" else 202)


@router.get("/{job_id}", summary="A job's state: its place in the queue, its progress, or its outcome",
            response_model=None, responses=responses({"model": JobResponse}) | NOT_FOUND)
async def status(job_id: JobId, jobs: JobsDep) -> JSONResponse:
    return _answer(await _known(job_id, jobs))


@router.delete("/{job_id}", summary="Cancel a job (it stops unless another client still wants it)",
               response_model=None, responses=responses({"model": JobResponse}) | NOT_FOUND)
async def cancel(job_id: JobId, jobs: JobsDep) -> JSONResponse:
    cancelled = await jobs.cancel(job_id)
    if cancelled is None:
        raise HTTPException(404, UNKNOWN)
    return _answer(cancelled)


@router.get("/{job_id}/events", summary="A job's state as Server-Sent Events, at each change, until it ends",
            response_class=StreamingResponse,
            responses=responses({"content": {"text/event-stream": {}},
                                 "description": "`event: status` (data: the job, as GET /jobs/{id}) at each change, "
                                                "the last one in a final state (done, failed, cancelled)."}) | NOT_FOUND)
async def events(job_id: JobId, jobs: JobsDep) -> StreamingResponse:
    first = await _known(job_id, jobs)
    return StreamingResponse(_follow(job_id, first, jobs), media_type="text/event-stream",
                             headers={**NO_STORE, "X-Accel-Buffering": "no"})


async def _known(job_id: str, jobs: JobsDep) -> JobStatus:
    found = await jobs.status(job_id)
    if found is None:
        raise HTTPException(404, UNKNOWN)
    return found


async def _follow(job_id: str, status: JobStatus | None, jobs: JobsDep) -> AsyncIterator[bytes]:
    """The job's status whenever it changes (polled every ``POLL_S``), then nothing once it has ended."""
    last, said = b"", time.monotonic()
    while status is not None:
        body = dumps(_document(status))
        if body != last:
            yield b"event: status\ndata: " + body + b"\n\n"
            last, said = body, time.monotonic()
        elif time.monotonic() - said > KEEP_ALIVE_S:
            yield b": still running\n\n"
            said = time.monotonic()
        if status.finished:
            return
        await asyncio.sleep(POLL_S)
        status = await jobs.status(job_id)

