"""Kernels and infinite-width predictions for points the caller sends."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Request, Response

from app.api.budget import check_budget
from app.api.deps import ServiceDep, SettingsDep
from app.api.errors import InvalidInput, responses
from app.api.http import cached_json
from app.api.schemas import (
    KernelsRequest,
    KernelsResponse,
    PredictionRequest,
    PredictionResponse,
    dumps,
    kernels_document,
    prediction_document,
)
from app.ntk import MLP, analytic_kernels, empirical_ntk, gd_mse_prediction, init_params
from app.ntk.checks import Checkpoint
from app.ntk.cost import empirical_kernel_cost

router = APIRouter(tags=["kernels"])
ADVICE = "use a narrower or shallower network, or fewer points"


@router.post("/kernels", summary="Analytic (infinite-width) and/or empirical NNGP and NTK between points",
             response_model=None, responses=responses({"model": KernelsResponse}, body=True))
async def kernels(body: KernelsRequest, request: Request, service: ServiceDep, settings: SettingsDep) -> Response:
    """Kernels in full float64 precision. The standard parameterization has no analytic limit (422 if asked)."""
    if "analytic" in body.kinds and body.parameterization == "standard":
        raise InvalidInput("the standard parameterization's NTK grows with width and has no infinite-width limit; "
                           "ask for kinds=['empirical'] or use parameterization='ntk'", location=("body", "kinds"))
    mlp = _mlp(body, body.width)
    x1, x2 = body.arrays()
    if "empirical" in body.kinds:
        d, n1, n2 = x1.shape[1], x1.shape[0], 0 if x2 is None else x2.shape[0]
        cost = empirical_kernel_cost(body.depth, body.width, body.activation, d, n1, n2)
        check_budget(cost, settings, ADVICE, location=("body",), result_advice="use fewer points")
    entry = await service.body("kernels:" + body.model_dump_json(), _kernels, body, mlp, x1, x2,
                               gone=request.is_disconnected)
    return cached_json(request.headers, entry)


def _kernels(checkpoint: Checkpoint, body: KernelsRequest, mlp: MLP, x1: np.ndarray, x2: np.ndarray | None) -> bytes:
    """The response body; ``checkpoint()`` between the steps (it raises when nobody waits any more)."""
    nngp = ntk = empirical = None
    if "analytic" in body.kinds:
        nngp, ntk = analytic_kernels(mlp, x1, x2)
    if "empirical" in body.kinds:
        params = init_params(mlp, x1.shape[1], np.random.default_rng([body.seed, body.width]), checkpoint)
        empirical = empirical_ntk(mlp, params, x1, x2, checkpoint)
    return dumps(kernels_document(nngp, ntk, empirical))


@router.post("/predictions", summary="The infinite-width network trained on your points: kernel regression over time",
             response_model=None, responses=responses({"model": PredictionResponse}, body=True))
async def predictions(body: PredictionRequest, request: Request, service: ServiceDep) -> Response:
    """Mean prediction (f0 = 0) of gradient descent with the analytic NTK, at each requested time."""
    if body.parameterization == "standard":
        raise InvalidInput("the standard parameterization has no infinite-width limit; use parameterization='ntk'",
                           location=("body", "parameterization"))
    entry = await service.body("predictions:" + body.model_dump_json(), _predict, body, gone=request.is_disconnected)
    return cached_json(request.headers, entry)


def _predict(checkpoint: Checkpoint, body: PredictionRequest) -> bytes:
    """The response body; ``checkpoint()`` between the steps (it raises when nobody waits any more)."""
    mlp = _mlp(body, 1)
    x_train, x_test = np.array(body.x_train, dtype=float), np.array(body.x_test, dtype=float)
    _, ntk_train = analytic_kernels(mlp, x_train)
    checkpoint()
    _, ntk_test = analytic_kernels(mlp, x_test, x_train)
    checkpoint()
    prediction = gd_mse_prediction(ntk_train, ntk_test, np.array(body.y_train), body.time_array(), body.learning_rate,
                                   discrete=body.discrete, ridge=body.ridge)
    return dumps(prediction_document(body, prediction))


def _mlp(body: KernelsRequest | PredictionRequest, width: int) -> MLP:
    try:
        return MLP(depth=body.depth, width=width, activation=body.activation, w_std=body.w_std, b_std=body.b_std,
                   parameterization=body.parameterization)
    except ValueError as error:
        raise InvalidInput(str(error), location=("body",)) from None
