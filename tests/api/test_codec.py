"""A finished experiment through app/api/codec.py and back: every field equal, arrays bit for bit, no pickle."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import numpy as np
import pytest

from app.api.codec import decode, encode
from app.ntk import DriftConfig, drift_experiment


def assert_same(a: Any, b: Any, where: str = "result") -> None:
    assert type(a) is type(b), where
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True), where
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, tuple | list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def test_an_experiment_survives_the_round_trip_diverged_networks_and_all() -> None:
    # A learning rate that makes the narrow networks diverge: NaN arrays, inf limits and reasons in words travel too.
    result = drift_experiment(DriftConfig(widths=(16, 64), seeds=2, steps=30, snapshots=3, grid=16, districts=4,
                                          learning_rate=30.0))
    assert any((w.diverged_at >= 0).any() for w in result.widths)
    assert_same(result, decode(encode(result)))


def test_only_the_codecs_own_kinds_are_built_and_nothing_is_unpickled() -> None:
    with pytest.raises(ValueError, match="cannot encode"):
        encode({"x": object()})
    def archive(structure: object, **arrays: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, structure=np.frombuffer(json.dumps(structure).encode(), dtype=np.uint8), **arrays)
        return buffer.getvalue()

    with pytest.raises(ValueError, match="unknown kind"):
        decode(archive({"kind": "Popen", "fields": {"args": "true"}}))
    with pytest.raises(ValueError, match="pickle"):  # an object array would need unpickling: refused by numpy
        decode(archive({"array": 0}, a0=np.array([object()], dtype=object)))
