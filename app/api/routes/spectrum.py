"""What the kernel learns first: the infinite-width kernels' spectrum on the ring, and networks trained frequency by
frequency against the kernel's forecast (app/ntk/spectrum.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.budget import check_budget
from app.api.compute import ComputeService, Gone
from app.api.deps import ServiceDep, SettingsDep
from app.api.errors import InvalidInput, responses
from app.api.http import cached_json
from app.api.schemas import (
    SpectralBiasQuery,
    SpectralBiasResponse,
    SpectrumQuery,
    SpectrumResponse,
    bias_steps,
    dumps,
    spectral_bias_document,
    spectrum_document,
)
from app.ntk.checks import Checkpoint
from app.ntk.cost import spectral_bias_cost
from app.ntk.mlp import ACTIVATIONS, MAX_DEPTH, MLP
from app.ntk.spectrum import SpectralBiasConfig, ring_spectrum, spectral_bias
from app.serving.cache import CachedBody

router = APIRouter(tags=["spectrum"])
ADVICE = "use narrower widths, fewer steps, seeds or districts, or fewer hidden layers"


@router.get("/spectrum", summary="The infinite-width NTK's and NNGP's eigenvalues on the ring, frequency by frequency",
            response_model=None, responses=responses({"model": SpectrumResponse}))
async def spectrum(query: Annotated[SpectrumQuery, Query()], request: Request, service: ServiceDep) -> Response:
    """On 1024 equispaced ring points each kernel is a circulant matrix, diagonalised by the Fourier modes cos kγ and
    sin kγ: its eigenvalue λ_k for each frequency k, which are zero to rounding, and the measured decay (a power law
    or a geometric one, whichever fits) over k = 8 … 64, even and odd k apart. Computed in milliseconds (analytic
    kernels on 1024 pairs of points), so not checked against the compute budget."""
    try:
        mlp = MLP(depth=query.depth, activation=query.activation, w_std=query.w_std, b_std=query.b_std)
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    return cached_json(request.headers, await _spectrum_entry(service, query, mlp, gone=request.is_disconnected))


async def _spectrum_entry(service: ComputeService, query: SpectrumQuery, mlp: MLP, gone: Gone | None = None) -> CachedBody:
    """The spectrum document of ``query`` from this worker's response cache, computed there if it is not: the one
    place that knows its key (the handler and the warm-up both ask here)."""
    return await service.body("spectrum:" + query.model_dump_json(), _spectrum, query, mlp, gone=gone)


def _spectrum(checkpoint: Checkpoint, query: SpectrumQuery, mlp: MLP) -> bytes:
    checkpoint()
    return dumps(spectrum_document(query, ring_spectrum(mlp)))


@router.get("/spectral-bias", summary="Networks trained on several frequencies at once: each one's residual against "
                                      "the kernel's forecast", response_model=None,
            responses=responses({"model": SpectralBiasResponse}))
async def spectral_bias_experiment(query: Annotated[SpectralBiasQuery, Query()], request: Request,
                                   service: ServiceDep, settings: SettingsDep) -> Response:
    """Networks of each width (NTK parameterization) trained by full-batch gradient descent on the districts with
    target Σ_k cos kγ, at η = lr_fraction · 2N/λ_max of the analytic NTK; the amplitude of each target frequency in
    their residual at every step, against the analytic kernel's forecast |1 − ηλ_k/N|^t, and the steps each takes to
    fall to 1/e. Checked against the compute budget (a 422 says what to reduce)."""
    try:
        config = query.to_config()
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    cost = spectral_bias_cost(config.depth, config.activation, config.widths, config.seeds, config.districts,
                              config.steps, len(config.frequencies), len(bias_steps(config.steps)))
    check_budget(cost, settings, ADVICE, result_advice="use fewer widths, seeds or frequencies")
    return cached_json(request.headers, await _bias_entry(service, query, config, gone=request.is_disconnected))


async def _bias_entry(service: ComputeService, query: SpectralBiasQuery, config: SpectralBiasConfig,
                      gone: Gone | None = None) -> CachedBody:
    """The spectral-bias document of ``query`` from this worker's response cache, computed there if it is not (its
    key, like the spectrum's, known only here)."""
    return await service.body("spectral-bias:" + query.model_dump_json(), _bias, query, config, gone=gone)


def _bias(checkpoint: Checkpoint, query: SpectralBiasQuery, config: SpectralBiasConfig) -> bytes:
    return dumps(spectral_bias_document(query, spectral_bias(config, checkpoint)))


async def keep_page_documents(service: ComputeService, depth: int, activation: str, w_std: float, b_std: float,
                              seed: int, idle: Callable[[], Awaitable[None]]) -> None:
    """Compute into this worker's response cache the documents the page's spectrum figures ask for on a first visit
    with this architecture and seed (its spectrum, the kernel zoo's sixteen kernels at its σw and σb, its spectral-bias
    experiment), under the keys the handlers above use; ``await idle()`` before each (the warm-up gives way to
    requests, app/api/warmup.py)."""
    queries = [SpectrumQuery(depth=d, activation=a, w_std=w_std, b_std=b_std)
               for a in ACTIVATIONS for d in range(1, MAX_DEPTH + 1)]
    for query in queries:
        await idle()
        await _spectrum_entry(service, query, MLP(depth=query.depth, activation=query.activation, w_std=query.w_std,
                                                  b_std=query.b_std))
    bias = SpectralBiasQuery(depth=depth, activation=activation, w_std=w_std, b_std=b_std, seed=seed)
    await idle()
    await _bias_entry(service, bias, bias.to_config())
