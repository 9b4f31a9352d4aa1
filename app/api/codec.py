"""A finished experiment as bytes and back, safely: numpy's ``.npz`` with no pickled objects.

Arrays go into the archive as they are (``a0``, ``a1``, …); everything else (the frozen dataclasses' structure,
numbers, strings, tuples, dicts) into one JSON entry, ``structure``. Decoding builds only the dataclasses named in
:data:`KINDS` and loads arrays with ``allow_pickle=False``, so bytes from a shared store (a Redis another process
writes) can never run code. ``decode(encode(x)) == x`` field by field, arrays bit for bit.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from typing import Any

import numpy as np

from app.ntk.data import RingTask
from app.ntk.experiments import DriftConfig, DriftResult, Reference, SlopeFit, WidthResult
from app.ntk.training import LearningSpeeds

KINDS: dict[str, type] = {kind.__name__: kind for kind in (DriftResult, DriftConfig, RingTask, Reference, SlopeFit,
                                                             WidthResult, LearningSpeeds)}


def encode(value: Any) -> bytes:
    """``value`` (a :data:`KINDS` dataclass, or any nesting of them, arrays, tuples, dicts and plain values)."""
    arrays: list[np.ndarray] = []
    structure = json.dumps(_pack(value, arrays), allow_nan=False)
    buffer = io.BytesIO()
    named: dict[str, np.ndarray] = {f"a{i}": array for i, array in enumerate(arrays)}
    named["structure"] = np.frombuffer(structure.encode(), dtype=np.uint8)
    np.savez(buffer, **named)  # type: ignore[arg-type]  # numpy's stubs type **kwds as allow_pickle
    return buffer.getvalue()


def decode(data: bytes) -> Any:
    """What :func:`encode` wrote; ``ValueError`` for anything else."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        structure = json.loads(archive["structure"].tobytes().decode())
        return _unpack(structure, archive)


def _pack(value: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return {"array": len(arrays) - 1}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value).__name__
        if KINDS.get(kind) is not type(value):
            raise ValueError(f"cannot encode a {kind}")
        return {"kind": kind, "fields": {f.name: _pack(getattr(value, f.name), arrays) for f in dataclasses.fields(value)}}
    if isinstance(value, tuple):
        return {"tuple": [_pack(v, arrays) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): _pack(v, arrays) for k, v in value.items()}}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}  # JSON has no NaN or infinity
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise ValueError(f"cannot encode {type(value).__name__}")


def _unpack(value: Any, archive: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "array" in value:
        return archive[f"a{value['array']}"]
    if "kind" in value:
        kind = KINDS.get(value["kind"])
        if kind is None:
            raise ValueError(f"unknown kind {value['kind']!r}")
        return kind(**{name: _unpack(v, archive) for name, v in value["fields"].items()})
    if "tuple" in value:
        return tuple(_unpack(v, archive) for v in value["tuple"])
    if "dict" in value:
        return {k: _unpack(v, archive) for k, v in value["dict"].items()}
    if "float" in value:
        return float(value["float"])
    raise ValueError("not an encoded value")
