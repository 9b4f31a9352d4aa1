"""The cost before running, in Chromium (issue 14 §1): the estimate under the settings, a refusal said at the control
that was changed with the nearest settings that run, the depth menu's marks, and no figure left as if it answered."""

from __future__ import annotations

import json
import re
import urllib.request

from playwright.sync_api import Browser

from tests.web.conftest import ALL_DRAWN, PageLog, wait_until


def test_a_choice_over_the_limit_is_refused_at_its_control_with_what_runs_instead(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?v=1")
    wait_until(page, ALL_DRAWN)
    wait_until(page, "() => document.getElementById('cost-estimate').textContent !== ''")
    assert re.fullmatch(r"Estimated computing: 0\.\d+ s of the 6 s one request may use here\.",
                        page.inner_text("#cost-estimate"))
    with urllib.request.urlopen(f"{base_url}/api/v1/experiments/drift/cost?depth=3", timeout=30) as response:
        expected = json.load(response)
    # The depth menu says which depths are over the limit with these widths, before any is chosen.
    labels = page.evaluate("() => [...document.querySelectorAll('#control-depth option')].map((o) => o.textContent)")
    assert labels[0] == "1" and all(label.endswith("(over this server's limit)") for label in labels[1:]), labels
    page.select_option("#control-depth", "3")
    wait_until(page, "() => !document.getElementById('refusal')?.hidden")
    note = page.inner_text("#refusal")
    assert note.startswith("3 hidden layers with these widths would need about "), note
    assert f"What runs now: widths up to {expected['admissible']['widest']} lanes, or 1 hidden layer." in note
    # Said at the control: right after the depth menu's field.
    assert page.evaluate("() => document.getElementById('control-depth').closest('.field').nextElementSibling.id") == "refusal"
    # The figures drawn for depth 1 are faded, each saying why, never shown as depth 3's answer.
    wait_until(page, "() => [...document.querySelectorAll('.story-figure')].every((f) => f.classList.contains('stale'))")
    assert "refused" in page.inner_text("[data-status=drift]")
    page.select_option("#control-depth", "1")
    wait_until(page, "() => document.getElementById('refusal').hidden"
                     " && ![...document.querySelectorAll('.story-figure')].some((f) => f.classList.contains('stale'))")
    assert [e for e in log.errors if "422" not in e] == []  # the browser logs the refused request itself
    page.close()
