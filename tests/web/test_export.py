"""The static export, served by a plain file server with no app running: every scenario, each of its comparisons and
every embed draw from the saved files; settings that need the server say so, and always lead back to a saved scenario.

The copy is written once per session (tests/web/conftest.py ``static_copy``: every scenario, at most 100 steps each)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page

from app.api.schemas import DriftQuery
from app.export import INDEX, check_saved
from app.parameters import COMPARISONS
from app.web.routes import ASSETS_VERSION, EMBEDDABLE, SECTIONS_BY_ID
from tests.web.conftest import PageLog, StaticCopy, wait_until
from tests.web.test_breaks import final_median
from tests.web.test_embed import DOCS_ORIGIN, DOCUMENTED, SNIPPET

FIGURES = [s.id for s in SECTIONS_BY_ID.values() if s.figure]

# Every figure drawn from data (a chart with at least one number plotted, or a figure our own code drew; a chart whose
# networks all diverged has only gaps, and its summary says so), and no figure saying anything else: no error, no
# note, nothing still computing.
DRAWN = """() => [...document.querySelectorAll('[data-figure]')].every((e) => e.dataset.drawn === 'true'
    || (e.data ?? []).some((t) => [t.y, t.z].some((a) => Array.isArray(a) && a.flat(3).some(Number.isFinite)))
    || (e.data?.length && document.getElementById(`${e.dataset.figure}-summary`).textContent.includes('diverged')))
  && [...document.querySelectorAll('figure [data-status]')].every((e) => e.textContent === '')"""
COMPARED = DRAWN + " && document.querySelector('#breaks-summary').textContent.includes(%s)"
BREAKS = "() => document.querySelector('[data-figure=breaks]').data.map((t) => ({ name: t.name, x: t.x, y: t.y }))"
TICKS = "() => document.querySelector('[data-figure=drift]').layout.xaxis.tickvals"
TRACE_NAMES = "(figure) => document.querySelector(`[data-figure=${figure}]`).data.map((t) => t.name)"
WAYS_BACK = "() => [...document.querySelectorAll('figure [data-status]')].every((e) => e.querySelector('.way-back'))"


def _saved(copy: StaticCopy) -> list[tuple[str, DriftQuery]]:
    return [(p.id, DriftQuery(**p.changes)) for p in copy.presets if not p.job]


def _index(data: Path) -> dict[str, dict[str, dict[str, object]]]:
    index: dict[str, dict[str, dict[str, object]]] = json.loads((data / INDEX).read_text())
    return index


def _no_api(copy: StaticCopy) -> None:
    assert copy.asked and not [path for path in copy.asked if "/api/" in path]


# --- the files ----------------------------------------------------------------------------------------------------

def test_the_export_holds_the_pages_assets_and_each_scenarios_files(static_copy: StaticCopy) -> None:
    folder = static_copy.folder
    for name in ("index.html", "embed/drift/index.html", "embed/explainer/index.html", "data/presets.json",
                 f"data/{INDEX}", "data/default/experiment.json", "data/default/kernels/64.json",
                 f"static/{ASSETS_VERSION}/js/main.js", f"static/{ASSETS_VERSION}/js/embed-options.js"):
        assert (folder / name).is_file(), name
    assert next((folder / "vendor").glob("plotly-*.min.js"))
    html = (folder / "index.html").read_text()
    assert f'src="./static/{ASSETS_VERSION}/js/main.js"' in html and "data-static" in html and 'href="/' not in html
    listed = [p["id"] for p in json.loads((folder / "data" / "presets.json").read_text())]
    assert listed == [p.id for p in static_copy.presets]  # every scenario, those that run as jobs too


def test_every_declared_comparison_is_saved_for_every_scenario_and_each_document_once(static_copy: StaticCopy) -> None:
    data = static_copy.folder / "data"
    assert check_saved(data) == []
    index = _index(data)
    for preset in static_copy.presets:
        if preset.job:
            assert preset.id in index["live_only"] and preset.id not in index["scenarios"]
        else:
            assert set(index["scenarios"][preset.id]["comparisons"]) == {c.id for c in COMPARISONS}  # type: ignore[arg-type]
    # A comparison that is a scenario's own experiment (its settings under that scaling are that scenario's) names that
    # scenario's file: nothing is computed or written twice.
    experiments = {_experiment(query): index["scenarios"][id]["experiment"] for id, query in _saved(static_copy)}
    reused = 0
    for id, query in _saved(static_copy):
        for c in COMPARISONS:
            same = experiments.get(_experiment(DriftQuery(**{**query.model_dump(exclude_none=True), **c.overrides})))
            if same is not None:
                assert index["scenarios"][id]["comparisons"][c.id] == same, (id, c.id)  # type: ignore[index]
                reused += 1
    assert reused, "the mean-field scenario is its own mean-field comparison"
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path in data.rglob("*.json")]
    assert len(digests) == len(set(digests)), "two files of data/ hold the same bytes"


def _experiment(query: DriftQuery) -> str:
    return query.model_copy(update={"kernel_width": None}).model_dump_json()


def test_a_broken_reference_in_a_saved_copy_is_reported(static_copy: StaticCopy, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(static_copy.folder / "data", data)
    index = _index(data)
    default = index["scenarios"]["default"]
    (data / default["comparisons"]["standard"]).unlink()  # type: ignore[index]
    del index["scenarios"]["narrow-vs-wide"]["comparisons"]["alpha"]  # type: ignore[attr-defined]
    default["kernels"]["64"] = "../../outside.json"  # type: ignore[index]
    job = next(p for p in static_copy.presets if p.job)
    del index["live_only"][job.id]
    (data / INDEX).write_text(json.dumps(index))
    problems = check_saved(data)
    assert f"default: its comparison standard, {default['comparisons']['standard']}, is missing" in problems  # type: ignore[index]
    assert f"narrow-vs-wide: no comparison alpha in {INDEX}" in problems
    assert "default: its kernel 64, ../../outside.json, is missing" in problems
    assert f"the scenario {job.id} is neither saved nor listed as live-only" in problems


def test_a_saved_document_is_the_one_the_api_answers(static_copy: StaticCopy, client: TestClient) -> None:
    """The experiment and a kernel, written apart and put back together as the page does (static/js/api.js
    getSavedDrift), are the drift document the API sends for the scenario's settings and that width."""
    data = static_copy.folder / "data"
    id, query = _saved(static_copy)[1]
    width = query.width_list[-1]
    files = _index(data)["scenarios"][id]
    experiment = json.loads((data / str(files["experiment"])).read_text())
    kernel = json.loads((data / files["kernels"][str(width)]).read_text())  # type: ignore[index]
    saved = {**experiment, "query": {**experiment["query"], "kernel_width": kernel["width"]}, "kernel": kernel}
    params = query.model_copy(update={"kernel_width": width}).model_dump(exclude_none=True)
    response = client.get("/api/v1/experiments/drift?" + urlencode(params))
    assert response.status_code == 200 and saved == response.json()


def test_the_spectrum_figures_documents_are_saved_for_every_scenario_as_the_api_answers_them(
        static_copy: StaticCopy, client: TestClient) -> None:
    """Each scenario lists the requests its spectrum figures send (its architecture's spectrum and spectral-bias
    experiment, and the kernel zoo's sixteen spectra at its σw and σb); each names a saved file, which is the API's
    answer to that request, byte for byte."""
    data = static_copy.folder / "data"
    index = _index(data)
    documents: dict[str, str] = index["documents"]  # type: ignore[assignment]
    for id, query in _saved(static_copy):
        requests = index["scenarios"][id]["requests"]
        arch = f"depth={query.depth}&activation={query.activation}"
        assert len(requests) == 10 and requests[0].startswith(f"api/v1/spectrum?{arch}&")  # type: ignore[union-attr,index]
        assert requests[-1].startswith(f"api/v1/spectral-bias?{arch}&") and requests[-1].endswith(f"&seed={query.seed}")  # type: ignore[index]
    for request, name in documents.items():
        response = client.get("/" + request)
        assert response.status_code == 200 and response.content == (data / name).read_bytes(), request


# --- in Chromium ----------------------------------------------------------------------------------------------------

def test_every_saved_scenario_draws_every_figure(browser: Browser, static_copy: StaticCopy) -> None:
    """One page: a fresh one is the default scenario; each other one is chosen from the menu."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{static_copy.url}/index.html")
    for id, query in _saved(static_copy):
        if id != "default":
            page.select_option("#control-preset", id)
        wait_until(page, DRAWN, near=())
        assert page.evaluate(TICKS) == list(query.width_list) and page.input_value("#control-preset") == id
    assert log.errors == []
    _no_api(static_copy)
    page.close()


def test_every_comparison_of_every_saved_scenario_is_drawn(browser: Browser, static_copy: StaticCopy) -> None:
    """The figure's embed, with its settings: each scenario from the menu, and each comparison from the figure's own
    (starting from the one the scenario before ended on)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{static_copy.url}/embed/breaks/")
    data = static_copy.folder / "data"
    index = _index(data)["scenarios"]
    ids = [c.id for c in COMPARISONS]
    for id, query in _saved(static_copy):
        if id != "default":
            page.select_option("#control-preset", id)
        start = ids.index(page.input_value("#control-compare"))
        for c in COMPARISONS[start:] + COMPARISONS[:start]:
            if page.input_value("#control-compare") != c.id:
                page.select_option("#control-compare", c.id)
            wait_until(page, COMPARED % json.dumps(f"; {c.legend}: "))
            ntk, other = page.evaluate(BREAKS)[:2]
            assert ntk["x"] == other["x"] == list(query.width_list), (id, c.id)
            assert other["name"].startswith(f"{c.legend} (slope "), (id, c.id)
            # Each curve is its saved document's: the NTK scaling's, and the comparison's.
            for trace, name in ((ntk, index[id]["ntk_scaling"]), (other, index[id]["comparisons"][c.id])):  # type: ignore[index]
                document = json.loads((data / str(name)).read_text())
                assert trace["y"] == [final_median(w) for w in document["widths"]], (id, c.id)
        assert page.input_value("#control-preset") == id
    assert log.errors == []
    _no_api(static_copy)
    page.close()


# What an embed shows: its settings (and whether they are locked), its cards, whether its captions show.
PARTS = """() => ({
  controls: document.getElementById('controls') !== null,
  locked: [...(document.getElementById('controls')?.elements ?? [])].every((e) => e.disabled),
  cards: document.querySelectorAll('.card').length,
  captions: [...document.querySelectorAll('figcaption')].every((e) => getComputedStyle(e).display !== 'none'),
})"""
# Each figure's embed with one of these (every option docs/embedding.md documents, alone and together).
OPTIONS = ["hide=controls", "card=1", "lock=1", "hide=controls,caption&lock=1", "card=1&hide=caption",
           "preset=narrow-vs-wide&hide=controls", "", "hide=caption&card=1&lock=1"]


def test_every_embed_draws_from_the_static_copy_with_the_documented_options(browser: Browser,
                                                                          static_copy: StaticCopy) -> None:
    cases = [(f"/embed/{figure}/?v=1&{OPTIONS[i % len(OPTIONS)]}", figure) for i, figure in enumerate(FIGURES)]
    cases += [("/embed/explainer/?v=1&hide=cards&lock=1", "explainer"), ("/embed/explainer/?v=1&hide=controls", "explainer")]
    for path in DOCUMENTED:  # the README's and docs/embedding.md's own snippets, exactly
        cases += [(src.replace("&amp;", "&").removeprefix(DOCS_ORIGIN), src.split("/embed/")[1].split("?")[0])
                  for src, _ in SNIPPET.findall(path.read_text(encoding="utf-8"))]
    assert {figure for _, figure in cases} == set(EMBEDDABLE)
    page = browser.new_page(viewport={"width": 800, "height": 600})
    log = PageLog(page)
    for path, figure in cases:
        page.goto(static_copy.url + path)
        wait_until(page, DRAWN, near=())
        options = dict(part.split("=") for part in path.split("?")[1].split("&") if part)
        hidden = options.get("hide", "").split(",")
        cards = (0 if "cards" in hidden else len(SECTIONS_BY_ID)) if figure == "explainer" else int(options.get("card") == "1")
        assert page.evaluate(PARTS) == {"controls": "controls" not in hidden, "locked": options.get("lock") == "1"
                                        or "controls" in hidden, "cards": cards, "captions": "caption" not in hidden}, path
        assert page.evaluate("() => document.querySelectorAll('[data-figure]').length") == (
            len(FIGURES) if figure == "explainer" else 1)
        state = urlencode({k: v for k, v in options.items() if k not in ("hide", "card", "lock")})
        assert page.get_attribute(".embed-credit a", "href") == f"../../?{state}", path  # "Open in Infinite Lanes"
        if "preset" in options:
            assert "widths=32%2C4096" in page.url and "hide=controls" in page.url, page.url
        if "width" in options:  # the README's: the road shown is marked on the drift figure
            assert any(f"({options['width']} lanes)" in name for name in page.evaluate(TRACE_NAMES, figure)), path
    assert log.errors == []
    _no_api(static_copy)
    page.close()


def _way_back(page: Page, figure: str) -> str:
    """The figure's message, once it offers a way back; its link must be visible."""
    wait_until(page, WAYS_BACK)
    status = page.locator(f"[data-status={figure}]")
    assert status.get_attribute("data-kind") == "note" and status.locator(".way-back").is_visible()
    return status.inner_text()


def test_settings_that_need_the_server_say_so_and_always_lead_back(browser: Browser, static_copy: StaticCopy) -> None:
    titles = {p.id: p.title for p in static_copy.presets}
    page = browser.new_page(viewport={"width": 390, "height": 844})
    log = PageLog(page)

    # Settings no scenario has, in an embed whose settings are hidden and locked: the message has the way out.
    page.goto(f"{static_copy.url}/embed/drift/?v=1&depth=2&hide=controls&lock=1")
    text = _way_back(page, "drift")
    assert "need the live server" in text and f"Show the scenario “{titles['default']}”" in text
    assert page.locator("#controls").count() == 0 and not page.locator("[data-figure=drift]").is_visible()  # no empty plot
    page.click("[data-status=drift] .way-back")
    wait_until(page, DRAWN, near=())
    assert "preset=default" in page.url and "hide=controls" in page.url and "lock=1" in page.url

    # A scenario that runs as a job on the live server: each figure says so.
    job = next(p for p in static_copy.presets if p.job)
    page.goto(f"{static_copy.url}/index.html?preset={job.id}")
    _way_back(page, "ring")
    said = f"The scenario “{job.title}” runs as a job on the live server"
    assert all(said in page.locator(f"[data-status={figure}]").inner_text() for figure in FIGURES)
    page.click("[data-status=breaks] .way-back")
    wait_until(page, DRAWN, near=())
    assert page.input_value("#control-preset") == "default"

    # A saved scenario changed by hand: its figures stay, faded, and the way back leads to it.
    page.goto(f"{static_copy.url}/index.html?preset=mean-field")
    wait_until(page, DRAWN, near=())
    page.locator("#controls-panel summary").click()  # folded on a phone
    page.select_option("#control-activation", "erf")
    assert f"Back to the scenario “{titles['mean-field']}”" in _way_back(page, "breaks")
    assert page.locator(".story-figure.stale").count() == len(FIGURES) and page.locator(".unavailable").count() == 0
    page.click("[data-status=maps] .way-back")
    wait_until(page, DRAWN, near=())
    assert page.input_value("#control-preset") == "mean-field" and page.input_value("#control-activation") == "relu"
    assert log.errors == []
    _no_api(static_copy)
    page.close()
