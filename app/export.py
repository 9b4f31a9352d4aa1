"""The static export: the page, its embeds, its assets and the scenarios' results, for a course site without a server.

``python -m app export OUTDIR`` (or ``make export``) writes::

    OUTDIR/index.html                            the explainer (assets linked relatively: works under any sub-path)
    OUTDIR/embed/<figure>/index.html             each embed (its hide=, card= and lock= are applied by the page)
    OUTDIR/static/<version>/…, OUTDIR/vendor/plotly-cartesian-<version>.min.js
    OUTDIR/data/presets.json                     every scenario, as GET /api/v1/presets answers them
    OUTDIR/data/index.json                       which files hold each scenario's documents (below)
    OUTDIR/data/<preset>/experiment.json         the scenario's drift document without its kernel on the grid
    OUTDIR/data/<preset>/kernels/<width>.json    that width's kernel on the grid (the document's ``kernel``)
    OUTDIR/data/<preset>/compare-<id>.json       a comparison of 'When the analogy breaks' (app/parameters.COMPARISONS)
    OUTDIR/data/<preset>/ntk-scaling.json        the scenario under the NTK scaling they are drawn against
    OUTDIR/data/spectrum/<architecture>.json     GET /api/v1/spectrum of each architecture a scenario's page shows
                                                 (its own, and the kernel zoo's: depth 1–4, ReLU and erf, at its σw, σb)
    OUTDIR/data/spectral-bias/<architecture>-seed<seed>.json   GET /api/v1/spectral-bias of each scenario's settings

The experiment is written once per scenario, not once per width: only the kernels differ between widths. A document
is written once however many places need it: a comparison that is a scenario's own experiment (the mean-field
comparison of 'Planners who rebuild the roads', the NTK scaling of every NTK scenario) and one that two scenarios
share point at the same file in ``index.json``; such experiments are computed once too.

The spectrum documents depend on the network's architecture alone, not on the experiment, so they are listed apart:
``index.json``'s ``documents`` maps each request the page would send, written as ``static/js/api.js`` writes it
(``api/v1/spectrum?depth=1&activation=relu&w_std=1&b_std=0.1``: the path and the query in that order, numbers as
JavaScript's ``String()`` writes them), to its file, and each scenario lists the requests its page sends
(``requests``), so ``check_saved`` can tell that none is missing.

The page notices ``data-static`` and reads these files instead of the API; settings that are not a saved scenario,
and the scenarios that run as jobs (listed in ``index.json``'s ``live_only``), say that they need the live server and
offer a way back to a saved one.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.api.compute import limit_blas_threads
from app.api.schemas import (
    DriftQuery,
    SpectralBiasQuery,
    SpectrumQuery,
    drift_document,
    dumps,
    kernel_document,
    spectral_bias_document,
    spectrum_document,
)
from app.content.presets import PRESETS, Preset
from app.ntk import MLP, DriftResult, drift_experiment
from app.ntk.mlp import ACTIVATIONS, MAX_DEPTH
from app.ntk.spectrum import ring_spectrum, spectral_bias
from app.parameters import COMPARISONS, NTK_SCALING, js_string
from app.web.routes import ASSETS_VERSION, EMBEDDABLE, PLOTLY_JS, PLOTLY_URL, ROOT, TEMPLATES, embed_context, page_context

INDEX = "index.json"
INDEX_VERSION = 1


def export_site(outdir: Path, presets: tuple[Preset, ...] = PRESETS) -> list[Path]:
    """Write the static site into ``outdir`` (created if needed); every file written, assets included (what
    :func:`measure` measures). Every
    scenario is listed; those that run as jobs have no saved results (the copy says they need the live server). Raises
    AssertionError if the index written names a file that is not there, or leaves out a document the page asks for."""
    limit_blas_threads()  # as in the server: on busy cores, OpenBLAS's spinning helpers made this 3× slower
    outdir.mkdir(parents=True, exist_ok=True)
    written = [_write(outdir / "index.html", TEMPLATES.get_template("index.html").render(
        page_context(root="./", static=True)))]
    for figure in EMBEDDABLE:
        html = TEMPLATES.get_template("embed.html").render(embed_context(figure, root="../../", static=True))
        written.append(_write(outdir / "embed" / figure / "index.html", html))
    assets = Path(shutil.copytree(ROOT / "static", outdir / "static" / ASSETS_VERSION, dirs_exist_ok=True))
    written += sorted(path for path in assets.rglob("*") if path.is_file())
    (outdir / PLOTLY_URL).parent.mkdir(parents=True, exist_ok=True)
    written.append(Path(shutil.copyfile(PLOTLY_JS, outdir / PLOTLY_URL)))
    data = outdir / "data"
    listing = [{"id": p.id, "title": p.title, "description": p.description,
                "query": DriftQuery(**p.changes).model_dump(exclude_none=True)} for p in presets]
    written.append(_write(data / "presets.json", dumps(listing)))
    saved = _Saved(data)
    kept = [preset for preset in presets if not preset.job]
    scenarios = {preset.id: saved.experiment(preset) for preset in kept}  # first: a comparison may be a scenario
    for preset in kept:
        scenarios[preset.id] |= saved.comparisons(preset)
        scenarios[preset.id]["requests"] = saved.spectra(preset)
    index = {"version": INDEX_VERSION, "scenarios": scenarios, "live_only": {p.id: "job" for p in presets if p.job},
             "documents": saved.documents}
    written += saved.written
    written.append(_write(data / INDEX, json.dumps(index, indent=1)))
    problems = check_saved(data)
    assert not problems, "the export is incomplete: " + "; ".join(problems)
    return written


@dataclass
class _Saved:
    """The documents written into ``data`` so far, found by experiment and by content, so that none is computed or
    written twice; paths are relative to ``data`` (as ``index.json`` names them)."""

    data: Path
    by_experiment: dict[str, str] = field(default_factory=dict)  # experiment key → its document's path
    by_content: dict[str, str] = field(default_factory=dict)     # sha-256 of the bytes → path
    results: dict[str, DriftResult] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)     # a request of static/js/api.js → its file
    written: list[Path] = field(default_factory=list)

    def experiment(self, preset: Preset) -> dict[str, Any]:
        """Write the scenario's experiment (its kernels left out) and each width's kernel; their index entry."""
        query = DriftQuery(**preset.changes)
        widths = query.width_list
        focus = query.model_copy(update={"kernel_width": query.kernel_width or widths[0]})
        result = self.result(query)
        document = drift_document(focus, result)  # with the kernel's companions: every width's change, the planner's
        document["query"]["kernel_width"] = None
        document["kernel"] = None  # in kernels/<width>.json
        path = self.save(f"{preset.id}/experiment.json", dumps(document))
        self.by_experiment.setdefault(_key(query), path)
        kernels = {str(width): self.save(f"{preset.id}/kernels/{width}.json", dumps(kernel_document(query, result, width)))
                   for width in widths}
        return {"experiment": path, "kernels": kernels}

    def comparisons(self, preset: Preset) -> dict[str, Any]:
        """The NTK scaling of the scenario and each of its comparisons: the file of the document already written for
        that experiment, or a new one."""
        query = DriftQuery(**preset.changes)
        return {"ntk_scaling": self.document(f"{preset.id}/ntk-scaling.json", _scaled(query, NTK_SCALING)),
                "comparisons": {c.id: self.document(f"{preset.id}/compare-{c.id}.json", _scaled(query, c.overrides))
                                for c in COMPARISONS}}

    def spectra(self, preset: Preset) -> list[str]:
        """The spectrum figures' documents of the scenario's page (app/api/routes/spectrum.py): its architecture's
        spectrum and spectral-bias experiment, and the kernel zoo's spectra at its σw and σb; each written once,
        named in ``documents`` by its request. The requests, in the page's order."""
        query = DriftQuery(**preset.changes)
        arch = {"depth": query.depth, "activation": query.activation, "w_std": query.w_std, "b_std": query.b_std}
        zoo = [{**arch, "depth": depth, "activation": activation} for activation in ACTIVATIONS
               for depth in range(1, MAX_DEPTH + 1)]
        requests = [self.spectrum(SpectrumQuery(**fields)) for fields in [arch, *zoo]]
        bias = SpectralBiasQuery(**arch, seed=query.seed)
        key = request_key("api/v1/spectral-bias", bias, ("depth", "activation", "w_std", "b_std", "seed"))
        if key not in self.documents:
            body = dumps(spectral_bias_document(bias, spectral_bias(bias.to_config())))
            self.documents[key] = self.save(f"spectral-bias/{_architecture(bias)}-seed{bias.seed}.json", body)
        return [*requests, key]

    def spectrum(self, query: SpectrumQuery) -> str:
        key = request_key("api/v1/spectrum", query, ("depth", "activation", "w_std", "b_std"))
        if key not in self.documents:
            mlp = MLP(depth=query.depth, activation=query.activation, w_std=query.w_std, b_std=query.b_std)
            self.documents[key] = self.save(f"spectrum/{_architecture(query)}.json",
                                            dumps(spectrum_document(query, ring_spectrum(mlp))))
        return key

    def document(self, name: str, query: DriftQuery) -> str:
        key = _key(query)
        if key not in self.by_experiment:
            self.by_experiment[key] = self.save(name, dumps(drift_document(query, self.result(query))))
        return self.by_experiment[key]

    def result(self, query: DriftQuery) -> DriftResult:
        key = _key(query)
        if key not in self.results:
            self.results[key] = drift_experiment(query.to_config())
        return self.results[key]

    def save(self, name: str, content: bytes) -> str:
        digest = hashlib.sha256(content).hexdigest()
        if digest not in self.by_content:
            self.written.append(_write(self.data / name, content))
            self.by_content[digest] = name
        return self.by_content[digest]


def request_key(path: str, query: SpectrumQuery, names: tuple[str, ...]) -> str:
    """The request ``static/js/api.js`` sends for ``query``'s fields ``names`` on ``path``: how ``documents`` names
    it."""
    return f"{path}?" + "&".join(f"{name}={js_string(getattr(query, name))}" for name in names)


def _architecture(query: SpectrumQuery) -> str:
    return f"{query.depth}-{query.activation}-w{js_string(query.w_std)}-b{js_string(query.b_std)}"


def _scaled(query: DriftQuery, overrides: Mapping[str, int | float | str]) -> DriftQuery:
    """The scenario's experiment with a scaling's settings, validated as the API validates the page's request."""
    return DriftQuery(**{**query.model_dump(exclude_none=True), **overrides, "kernel_width": None})


def _key(query: DriftQuery) -> str:
    """What names an experiment: every parameter but the kernel width, which only chooses what a document holds."""
    return query.model_copy(update={"kernel_width": None}).model_dump_json()


def check_saved(data: Path) -> list[str]:
    """What a static copy's ``data/`` folder lacks, in sentences (none: every scenario of ``presets.json`` is saved or
    listed as live-only, and every saved one names an existing file for its experiment, the kernel of each of its
    widths, its NTK scaling, each comparison of ``app/parameters.COMPARISONS`` and each request of its spectrum
    figures)."""
    index = json.loads((data / INDEX).read_text(encoding="utf-8"))
    problems = [] if index.get("version") == INDEX_VERSION else [f"{INDEX} is version {index.get('version')}"]
    scenarios, live_only = index["scenarios"], index["live_only"]
    for preset in json.loads((data / "presets.json").read_text(encoding="utf-8")):
        entry = scenarios.get(preset["id"])
        if entry is None:
            if preset["id"] not in live_only:
                problems.append(f"the scenario {preset['id']} is neither saved nor listed as live-only")
            continue
        names = {"experiment": entry.get("experiment"), "NTK scaling": entry.get("ntk_scaling")}
        names |= {f"kernel {w}": entry.get("kernels", {}).get(w) for w in str(preset["query"]["widths"]).split(",")}
        names |= {f"comparison {c.id}": entry.get("comparisons", {}).get(c.id) for c in COMPARISONS}
        documents = index.get("documents", {})
        names |= {f"request {request}": documents.get(request) for request in entry.get("requests", [None])}
        for what, name in names.items():
            if name is None:
                problems.append(f"{preset['id']}: no {what} in {INDEX}")
            elif not (data / name).resolve().is_relative_to(data.resolve()) or not (data / name).is_file():
                problems.append(f"{preset['id']}: its {what}, {name}, is missing")
    return problems


@dataclass(frozen=True)
class Size:
    files: int
    bytes: int
    gzip_bytes: int  # each file gzipped on its own (level 6), as a static host that compresses would send it

    def __str__(self) -> str:
        return f"{self.files} files, {self.bytes / 1e6:.2f} MB ({self.gzip_bytes / 1e6:.2f} MB gzipped)"


def measure(files: list[Path]) -> Size:
    """The size of these files, as stored and gzipped."""
    return Size(len(files), sum(path.stat().st_size for path in files),
                sum(len(gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)) for path in files))


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path
