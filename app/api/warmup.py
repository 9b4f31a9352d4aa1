"""The presets' experiments, computed once in the background at start-up and kept, so that no visitor waits for them.

Each web worker runs :func:`warm_up` as a task beside its requests (``create_app``'s lifespan starts it after the
server has started: ``/healthz`` and the page answer meanwhile). For every scenario that is not a job
(``app/content/presets.py``) it makes sure the experiments the page asks for on its first visit — the scenario's own,
the drift figure's erf overlay and "When the analogy breaks"'s mean-field comparison — are in the shared result store:
through :meth:`ComputeService.drift`, so the store's claims let one worker compute each while the others wait for it,
and a restart (or another replica on the same store) finds them kept. Then it encodes the default page's documents
into this worker's response cache, so a first visit is answered without decoding or serializing anything, and
computes there the default page's spectrum documents (app/api/routes/spectrum.py: they depend on the architecture
alone, and no store keeps them).

Low priority: the warm-up computes only while the worker computes nothing else, and one experiment at a time. A request
for any other computation that arrives meanwhile makes it give up its experiment at the next training step (it tries
again once the worker is idle); a request for the same experiment joins its computation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from app.api.budget import runs_as
from app.api.compute import ClientGone, ComputeService, result_key
from app.api.routes.experiments import document_body, document_key
from app.api.routes.spectrum import keep_page_documents
from app.api.schemas import DriftQuery
from app.config import Settings
from app.content.presets import PRESETS, PRESETS_BY_ID, Preset
from app.ntk import DriftConfig
from app.ntk.cost import drift_cost
from app.parameters import COMPARISONS_BY_ID, NTK_SCALING, parameter

log = logging.getLogger(__name__)
IDLE_POLL_S = 0.5  # how often a waiting warm-up looks whether its worker is idle
RETRIES = 3  # times an experiment is tried again after a failure (not counting the times it yielded to a request)

# What the page asks for besides a scenario's own experiment (kernel_width: None: no kernel is drawn from them):
# static/js/figures/drift.js's needs.overlay, and 'When the analogy breaks''s comparison with the page's default
# `compare`, drawn against the NTK scaling of the same settings (both declared in app/parameters.py).
OVERLAY: dict[str, object] = {"activation": "erf", "kernel_width": None}
NTK: dict[str, object] = {**NTK_SCALING, "kernel_width": None}
COMPARISON: dict[str, object] = {**COMPARISONS_BY_ID[str(parameter("compare").default)].overrides, "kernel_width": None}


def page_queries(preset: Preset) -> tuple[DriftQuery, ...]:
    """The drift queries a first visit of the page on ``preset`` sends, in the order the page needs them: the scenario's
    own (its kernel width: the one the page shows first), its erf overlay, and the mean-field comparison with, when
    the scenario is not itself on the NTK scaling, the NTK experiment it is compared with."""
    own = DriftQuery(**preset.changes)
    if own.kernel_width is None:
        own = _with(own, {"kernel_width": own.width_list[0]})  # the page shows the first width then
    queries = [own, _with(own, OVERLAY), _with(own, COMPARISON)]
    if any(getattr(own, name) != value for name, value in NTK_SCALING.items()):
        queries.append(_with(own, NTK))
    return tuple(queries)


def _with(query: DriftQuery, changes: Mapping[str, object]) -> DriftQuery:
    """``query`` with ``changes``, validated again."""
    return DriftQuery(**{**query.model_dump(), **changes})


def warmed_presets(settings: Settings) -> tuple[Preset, ...]:
    """The scenarios ``settings.warm_presets`` names, the page's default first; never a scenario that runs as a job.
    An unknown name is a ValueError (``create_app`` asks this at once: such a server does not start)."""
    if settings.warm_presets == "all":
        return tuple(preset for preset in PRESETS if not preset.job)
    names = [name for name in settings.warm_presets.split(",") if name]
    unknown = [name for name in names if name not in PRESETS_BY_ID]
    if unknown:
        raise ValueError(f"LANES_WARM_PRESETS must be 'all', '' or scenario ids separated by commas "
                         f"({', '.join(PRESETS_BY_ID)}); unknown: {', '.join(unknown)}")
    return tuple(PRESETS_BY_ID[name] for name in names if not PRESETS_BY_ID[name].job)


@dataclass
class WarmUp:
    """How far a worker's warm-up has come, for ``/readyz``: its experiments kept so far, of how many."""

    state: str = "off"  # "off", "warming", "done"
    kept: int = 0
    of: int = 0
    seconds: float | None = None  # how long it took, once done


def experiments_of(presets: tuple[Preset, ...], settings: Settings) -> list[DriftConfig]:
    """Every distinct experiment the page asks for on those scenarios' first visits that this server answers at once
    (one over its interactive budget would need a job), in order."""
    configs: dict[DriftConfig, None] = {}
    for preset in presets:
        for query in page_queries(preset):
            config = query.to_config()
            if runs_as(drift_cost(config), settings) == "now":
                configs.setdefault(config)
    return list(configs)


async def warm_up(service: ComputeService, presets: tuple[Preset, ...], status: WarmUp) -> None:
    """Keep every experiment of ``presets``' first visits in the shared store, then encode the first scenario's
    documents into this worker's response cache (module docstring). Failures are logged and skipped: the warm-up
    only saves time, and a request computes what it could not."""
    started = time.perf_counter()
    try:
        configs = experiments_of(presets, service.settings)
        status.state, status.of = "warming", len(configs)
        for config in configs:
            if await _keep(service, config):
                status.kept += 1
        if presets:
            await _encode_first_visit(service, presets[0])
            await _keep_spectra(service, presets[0])
    except Exception:  # a bug here must not go unseen, nor stop the server
        log.exception("warm-up: stopped")
    status.state, status.seconds = "done", round(time.perf_counter() - started, 2)
    log.info("warm-up: %d of %d experiments of %d scenarios kept in %.1f s", status.kept, status.of, len(presets),
             status.seconds)


async def _keep(service: ComputeService, config: DriftConfig) -> bool:
    """Whether ``config`` is in the store (or, without one, this worker's memory): found there, or computed now."""
    if service.finished(config) is not None or await _stored(service, config):
        return True
    failures = 0
    while failures <= RETRIES:
        while service.admitted > 0:  # a request is computing: it goes first
            await asyncio.sleep(IDLE_POLL_S)
        try:
            await service.drift(config, gone=lambda: _someone_waits(service))
            return True
        except ClientGone:  # gave way to a request: try again when the worker is idle
            continue
        except Exception as error:  # Overloaded, a failing store, …: the next request computes it instead
            failures += 1
            log.warning("warm-up: %s failed (%s)", result_key(config), error)
            await asyncio.sleep(IDLE_POLL_S)
    return False


async def _someone_waits(service: ComputeService) -> bool:
    """A computation besides the warm-up's own is admitted: the warm-up gives up its experiment for it."""
    return service.admitted > 1


async def _stored(service: ComputeService, config: DriftConfig) -> bool:
    """Whether the shared store holds ``config`` (read in a thread; its bytes are not decoded)."""
    store = service.store
    if store is None:
        return False
    try:
        return await asyncio.to_thread(store.get, result_key(config)) is not None
    except Exception:  # a store that fails: computed (and kept in memory) instead
        return False


async def _keep_spectra(service: ComputeService, preset: Preset) -> None:
    """The spectrum figures' documents of ``preset``'s first visit, computed into this worker's response cache (they
    depend on the architecture alone: a few milliseconds each, the spectral-bias experiment a second or two), each
    once the worker is idle. A failure is logged and skipped: the page's request computes it instead."""
    query = DriftQuery(**preset.changes)

    async def idle() -> None:
        while service.admitted > 0:  # a request is computing: it goes first
            await asyncio.sleep(IDLE_POLL_S)

    try:
        await keep_page_documents(service, query.depth, query.activation, query.w_std, query.b_std, query.seed, idle)
    except Exception as error:  # Overloaded, a failed computation: the page's request computes it
        log.warning("warm-up: the spectrum documents of %s failed (%s)", preset.id, error)


async def _encode_first_visit(service: ComputeService, preset: Preset) -> None:
    """The documents the page's first visit on ``preset`` receives, encoded (and gzipped) in this worker's response
    cache: the plain documents of every experiment it asks for (a kept experiment's own too: the page asks for it as
    a document, from the kept address (``…/drift/kept``), and follows its stream only when it is not kept)."""
    for query in page_queries(preset):
        result = await service.kept(query.to_config())
        if result is not None:
            await service.encoded(document_key(query), document_body, query, result)
