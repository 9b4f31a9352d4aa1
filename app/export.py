"""The static export: the page, its embeds, its assets and the presets' results, for a course site without a server.

``python -m app export OUTDIR`` (or ``make export``) writes::

    OUTDIR/index.html                       the explainer (assets linked relatively: works under any sub-path)
    OUTDIR/embed/<figure>/index.html        each embed
    OUTDIR/static/<version>/…, OUTDIR/vendor/plotly-cartesian-<version>.min.js
    OUTDIR/data/presets.json                the scenarios, as GET /api/v1/presets answers them
    OUTDIR/data/<preset>/<width>.json       each preset's experiment, with that width's kernels
    OUTDIR/data/<preset>/compare-mean_field.json   the mean-field comparison of 'When the analogy breaks'

The page notices ``data-static`` and reads these files instead of the API; settings that are not
a preset say that they need the live server and offer the presets.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from app.api.compute import limit_blas_threads
from app.api.schemas import DriftQuery, drift_document, dumps
from app.content.presets import PRESETS, Preset
from app.ntk import drift_experiment
from app.web.routes import ASSETS_VERSION, EMBEDDABLE, PLOTLY_JS, PLOTLY_URL, ROOT, TEMPLATES, embed_context, page_context

EXPORTED = tuple(preset for preset in PRESETS if not preset.job)  # a job's scenario needs the live server


def export_site(outdir: Path, presets: tuple[Preset, ...] = EXPORTED) -> list[Path]:
    """Write the static site into ``outdir`` (created if needed); the files written, for the caller to report. The
    scenarios that run as jobs are left out: the copy says they need the live server."""
    limit_blas_threads()  # as in the server: on busy cores, OpenBLAS's spinning helpers made this 3× slower
    outdir.mkdir(parents=True, exist_ok=True)
    written = [_write(outdir / "index.html", TEMPLATES.get_template("index.html").render(
        page_context(root="./", static=True)))]
    for figure in EMBEDDABLE:
        html = TEMPLATES.get_template("embed.html").render(embed_context(figure, root="../../", static=True))
        written.append(_write(outdir / "embed" / figure / "index.html", html))
    shutil.copytree(ROOT / "static", outdir / "static" / ASSETS_VERSION, dirs_exist_ok=True)
    (outdir / PLOTLY_URL).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PLOTLY_JS, outdir / PLOTLY_URL)
    listing = [{"id": p.id, "title": p.title, "description": p.description,
                "query": DriftQuery(**p.changes).model_dump(exclude_none=True)} for p in presets]
    written.append(_write(outdir / "data" / "presets.json", dumps(listing)))
    for preset in presets:
        written += _export_preset(outdir / "data" / preset.id, preset)
    return written


def _export_preset(folder: Path, preset: Preset) -> list[Path]:
    query = DriftQuery(**preset.changes)
    result = drift_experiment(query.to_config())
    written = [_write(folder / f"{width}.json", dumps(drift_document(query.model_copy(update={"kernel_width": width}), result)))
               for width in query.width_list]
    compare = query.model_copy(update={"parameterization": "mean_field", "depth": 1, "alpha": 1.0, "kernel_width": None})
    written.append(_write(folder / "compare-mean_field.json",
                          dumps(drift_document(compare, drift_experiment(compare.to_config())))))
    return written


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path
