"""Animation benchmark: frames per second of "Widen the road" and "Play the day", in headless Chromium.

Run with ``make bench-animation``. One server on a loopback port, the default page at 1280×800 (a desktop) and at
390×844 (a phone, also with the CPU slowed 4× through the DevTools protocol). The page's figures are drawn first; then
a requestAnimationFrame loop records the timestamp of every frame the browser paints while the animation plays, from
the click on Play to its end (the button's aria-pressed back to false). A frame that the figure's drawing delays shows
as a long interval. Prints Markdown: frames, seconds, mean frames per second, the 5th-percentile rate (1000 ms over the
95th-percentile interval) and the longest interval.
"""

from __future__ import annotations

import itertools
import statistics
import time

from playwright.sync_api import Page, sync_playwright

from tests.servers import uvicorn_workers
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, draw_figures

# Starts recording frame timestamps into window.frames until the animation's button is no longer pressed.
RECORD = """(button) => new Promise((resolve) => {
  const stamps = [];
  const tick = (now) => {
    stamps.push(now);
    if (document.querySelector(button).getAttribute('aria-pressed') === 'true' || stamps.length < 3) requestAnimationFrame(tick);
    else resolve(stamps);
  };
  requestAnimationFrame(tick);
  document.querySelector(button).click();
})"""

CASES = [  # (name, viewport, CPU slow-down, query, the animation's button)
    ("Widen the road, desktop", (1280, 800), 1, "/?v=1&width=16", "[data-widen-play]"),
    ("Widen the road, phone", (390, 844), 1, "/?v=1&width=16", "[data-widen-play]"),
    ("Widen the road, phone, CPU 4× slower", (390, 844), 4, "/?v=1&width=16", "[data-widen-play]"),
    ("Play the day, desktop", (1280, 800), 1, "/?v=1&time=0&width=16", "#play-time"),
]


def frames(page: Page, button: str) -> list[float]:
    page.locator(button).scroll_into_view_if_needed()
    time.sleep(0.5)
    return list(page.evaluate(RECORD, button))


def row(name: str, stamps: list[float]) -> str:
    intervals = sorted(b - a for a, b in itertools.pairwise(stamps))
    seconds = (stamps[-1] - stamps[0]) / 1000
    p95 = intervals[int(0.95 * (len(intervals) - 1))]
    return (f"| {name} | {len(intervals)} | {seconds:.1f} | **{len(intervals) / seconds:.0f}** | {1000 / p95:.0f} | "
            f"{intervals[-1]:.0f} ms |")


def main() -> None:
    lines = ["| animation | frames | seconds | mean fps | 5th-percentile fps | longest frame |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    with uvicorn_workers(1) as (base_url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for name, (width, height), slowdown, query, button in CASES:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(base_url + query)
            draw_figures(page, seconds=180)
            if slowdown > 1:
                page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
            lines.append(row(name, frames(page, button)))
            print(lines[-1], flush=True)
            page.close()
        browser.close()
    print("\n" + "\n".join(lines))
    rates = [float(line.split("**")[1]) for line in lines[2:]]
    print(f"\nlowest mean rate: {min(rates):.0f} fps (median {statistics.median(rates):.0f})")


if __name__ == "__main__":
    main()
