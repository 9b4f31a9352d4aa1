"""The cost before running, in Chromium (issue 14 §1): the estimate under the settings (the time on this server, and
whether the settings run now, only as a job or not at all); a choice that runs only as a job, or not at all, said at the
control that was changed with the nearest settings that run now; the depth menu's marks; and no figure left as if it
answered."""

from __future__ import annotations

import json
import re
import urllib.request

from playwright.sync_api import Browser

from tests.web.conftest import PageLog, draw_figures, wait_until

STALE = "() => [...document.querySelectorAll('.story-figure')].every((f) => f.classList.contains('stale'))"
FRESH = "() => ![...document.querySelectorAll('.story-figure')].some((f) => f.classList.contains('stale'))"


def cost(base_url: str, query: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(f"{base_url}/api/v1/experiments/drift/cost?{query}", timeout=30) as response:
        return json.load(response)  # type: ignore[no-any-return]


def test_a_choice_over_the_limit_is_said_at_its_control_with_what_runs_now(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?v=1")
    draw_figures(page)
    wait_until(page, "() => document.getElementById('cost-estimate').textContent !== ''")
    assert re.fullmatch(r"Estimated time on this server: about \d\.\d+\xa0s\. Runs now\.", page.inner_text("#cost-estimate"))
    # The depth menu says which depths run only as a job and which not at all with these widths, before any is chosen.
    verdicts = [cost(base_url, f"depth={depth}")["runs"] for depth in (2, 3, 4)]
    marks = {"job": " (runs as a job)", "refused": " (over this server's limit)"}
    expected_labels = ["1"] + [f"{depth}{marks[runs]}" for depth, runs in zip((2, 3, 4), verdicts, strict=True)]
    wait_until(page, f"() => [...document.querySelectorAll('#control-depth option')].map((o) => o.textContent).join('|')"
                     f" === {json.dumps('|'.join(expected_labels))}")
    assert verdicts[:2] == ["job", "job"], verdicts  # the server's default job budget takes 2 and 3 hidden layers

    # Three hidden layers run only as a job: said at the depth menu, with what runs now and the job's button.
    expected = cost(base_url, "depth=3")
    page.select_option("#control-depth", "3")
    wait_until(page, "() => !document.getElementById('cost-note')?.hidden")
    note = page.inner_text("#cost-note")
    assert note.startswith("3 hidden layers with these widths take about "), note
    assert "on this server, too long to run at once: they run as a job, queued and computed in the background." in note
    assert note.endswith(f"What runs now: widths up to {expected['admissible']['widest']} lanes, or 1 hidden layer."), note
    assert page.evaluate("() => document.getElementById('control-depth').closest('.field').nextElementSibling.id") == "cost-note"
    assert page.evaluate("() => document.getElementById('cost-note').dataset.kind") == "note"
    wait_until(page, "() => !document.getElementById('job').hidden")
    assert page.inner_text("#job-run") == "Run as a job"
    assert page.inner_text("#cost-estimate").endswith(", too long to run at once: runs as a job.")
    # The figures drawn for one hidden layer are faded, each saying why, never shown as the answer for three.
    wait_until(page, STALE)
    wait_until(page, "() => document.querySelector('[data-status=drift]').textContent.startsWith('These settings run as a job')")

    # 10000 steps at three hidden layers are over even a job's limit: said at the steps control, no job offered.
    page.fill("#control-steps", "10000")
    page.press("#control-steps", "Tab")
    wait_until(page, "() => document.getElementById('cost-note').dataset.kind === 'error'")
    note = page.inner_text("#cost-note")
    assert re.match(r"10000 training steps would take about [\d.]+\xa0(s|min|h) on this server, longer than the longest job it "
                    r"runs\. What runs now: ", note), note
    assert page.evaluate("() => document.getElementById('control-steps').closest('.field').nextElementSibling.id") == "cost-note"
    assert page.is_hidden("#job")
    assert page.inner_text("#cost-estimate").endswith("Over this server's limits: not run.")
    wait_until(page, "() => document.querySelector('[data-status=drift]').textContent.includes('refused')")

    page.fill("#control-steps", "500")
    page.press("#control-steps", "Tab")
    page.select_option("#control-depth", "1")
    wait_until(page, "() => document.getElementById('cost-note').hidden && document.getElementById('job').hidden")
    wait_until(page, FRESH)
    assert [e for e in log.errors if "422" not in e] == []  # the browser logs the refused request itself
    page.close()
