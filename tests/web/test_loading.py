"""The page's loading order (issue 15): the city is drawn by our own code before plotly.js is loaded, and plotly.js,
loaded after that first paint, still draws every chart. plotly.js's request is held back here, so the order does not
depend on how fast anything is. A chart further down, and its documents, wait until a reader nears it; the other
figures of the first document, until the city is painted."""

from __future__ import annotations

import json

from playwright.sync_api import Browser, Route

from app.parameters import page_defaults, page_request
from tests.web.conftest import ALL_DRAWN, PageLog, draw_figures, wait_until

OWN = ("widen", "ring")  # drawn by static/js/city.js
CHARTS = ("maps", "freeze", "drift", "forecast", "nngp", "breaks", "limits")  # drawn by plotly.js


def test_the_city_is_drawn_while_plotly_js_is_held_back_and_every_chart_once_it_arrives(browser: Browser,
                                                                                         base_url: str) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    log = PageLog(page)
    # The experiment computed first, as on a warm server: while it is still computing, the charts' sketches may ask for
    # plotly.js before the city can be drawn (plot.js SKETCH_WAIT_MS), which is the better use of an idle line.
    page.goto(base_url)
    draw_figures(page)
    held: list[Route] = []
    page.route("**/vendor/plotly-*.js", lambda route: held.append(route))  # answered when the test lets it go
    page.goto(base_url)
    for figure in OWN:
        wait_until(page, f"() => document.querySelector('[data-figure={figure}]').dataset.drawn === 'true'")
    wait_until(page, "() => document.querySelector('script[data-plotly]') !== null")  # asked for after the city
    assert page.evaluate("() => typeof window.Plotly") == "undefined"
    assert page.evaluate(f"() => {list(CHARTS)}.filter((id) => document.querySelector(`[data-figure=${{id}}]`).data)"
                         ".length") == 0  # not one chart before plotly.js
    assert page.evaluate("() => performance.getEntriesByType('mark').filter((m) => m.name.startsWith('figure:'))"
                         ".map((m) => m.name.slice(7)).sort()") == sorted(OWN)
    assert len(held) == 1  # one request for plotly.js, however many charts wait for it
    held[0].continue_()
    draw_figures(page)
    assert page.evaluate("() => typeof window.Plotly") == "object"
    # Asked for after the city was drawn (not merely answered after it): the two share no slow line.
    city, asked = page.evaluate("() => [Math.min(...performance.getEntriesByType('mark').filter((m) => "
                                "m.name === 'figure:widen' || m.name === 'figure:ring').map((m) => m.startTime)), "
                                "performance.getEntriesByType('resource').find((r) => r.name.includes('/vendor/plotly-'))"
                                ".startTime]")
    assert city < asked
    # Every module the page ran was fetched from the head: main.js, the modules it imports (preloaded with it) and
    # the figures' (preloaded by their sections), none found only one import level later.
    fetched, preloaded = page.evaluate("() => [performance.getEntriesByType('resource').map((r) => r.name)"
                                       ".filter((name) => name.endsWith('.js') && name.includes('/static/')), "
                                       "[...document.querySelectorAll('link[rel=modulepreload], script[type=module]')]"
                                       ".map((e) => e.href || e.src)]")
    assert len(fetched) > 10 and set(fetched) <= set(preloaded)
    assert log.errors == []
    page.close()


# Every other figure drawn from the experiment (static/js/figures/*.js: needs.document "experiment"): on a first visit
# they are drawn once the page's first figure, the widening city, is painted (static/js/main.js show()).
AFTER_THE_CITY = ("ring", "maps", "forecast", "drift", "freeze", "limits", "nngp", "yours")
# What their summaries say when the city is drawn, and in the frame that paints it (a requestAnimationFrame callback
# runs in that frame, before its paint).
CITY_FRAME = """(() => {
  const mark = performance.mark.bind(performance);
  const said = () => Object.fromEntries(FIGURES.map((id) => [id, document.getElementById(`${id}-summary`).textContent]));
  performance.mark = (name, ...rest) => {
    const made = mark(name, ...rest);
    if (name === "figure:widen") {
      window.atCity = said();
      requestAnimationFrame(() => { window.inCityFrame = said(); });
    }
    return made;
  };
})()""".replace("FIGURES", json.dumps(AFTER_THE_CITY))


def test_a_first_visit_paints_the_city_before_it_draws_the_other_figures(browser: Browser, base_url: str) -> None:
    first = browser.new_page()  # the default experiment computed first, as on a warm server (while it computes, the
    first.goto(base_url)        # page sketches its progress in some of these figures, and the city waits for it all)
    wait_until(first, "() => document.querySelector('[data-figure=widen]').dataset.drawn === 'true'")
    first.close()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(CITY_FRAME)
    page = context.new_page()
    log = PageLog(page)
    page.goto(base_url)
    wait_until(page, "() => window.inCityFrame !== undefined")
    nothing = dict.fromkeys(AFTER_THE_CITY, "")
    assert page.evaluate("() => window.atCity") == nothing
    assert page.evaluate("() => window.inCityFrame") == nothing  # the frame that paints the city paints none of them
    summaries = f"() => {list(AFTER_THE_CITY)}.every((id) => document.getElementById(`${{id}}-summary`).textContent)"
    wait_until(page, summaries)  # then drawn, without a scroll, and the view announced
    assert page.evaluate("() => document.getElementById('announcer').textContent").startswith("64 lanes, step ")
    assert page.evaluate(f"() => {list(AFTER_THE_CITY)}.every((id) => "
                         "document.querySelector(`[data-table=${id}] tbody tr`) !== null)")  # and their tables filled
    # A later document (other settings) is drawn by the other figures too: the drift figure says what it measured.
    before = page.inner_text("#drift-summary")
    page.fill("#control-steps", "200")
    page.press("#control-steps", "Tab")
    wait_until(page, f"() => document.getElementById('drift-summary').textContent !== {before!r}")
    assert log.errors == []
    context.close()


def test_an_embed_of_one_chart_loads_plotly_js_at_once_and_one_of_the_city_never(browser: Browser, base_url: str) -> None:
    page = browser.new_page()
    log = PageLog(page)
    page.goto(f"{base_url}/embed/drift")
    draw_figures(page)
    page.goto(f"{base_url}/embed/ring")
    draw_figures(page)
    # Past the moment a page with a chart asks for plotly.js (the frame after the city's has been painted):
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 0))))")
    assert page.evaluate("() => [document.querySelector('script[data-plotly]'), typeof window.Plotly]") == [None,
                                                                                                         "undefined"]
    assert log.errors == []
    page.close()


def test_a_chart_and_its_documents_wait_until_a_reader_nears_it_and_printing_draws_every_one(browser: Browser,
                                                                                            base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log = PageLog(page)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/spectrum" in r.url else None)
    page.goto(base_url)
    draw_figures(page, "widen", "ring", "maps")  # the first screens: the city, then its traffic maps
    page.wait_for_timeout(1500)  # time enough for anything else the page would do unasked
    # The zoo lies a dozen screens down: neither drawn nor fetched (its 8 spectra) while the reader stays at the top.
    zoo_top = page.evaluate("() => document.querySelector('[data-figure=zoo]').getBoundingClientRect().top")
    assert zoo_top > 4 * 800, zoo_top
    assert page.evaluate("() => document.querySelector('[data-figure=zoo]').data") is None
    assert not any("/api/v1/spectrum?" in url for url in asked), asked
    # Scrolled to, it fetches its spectra and draws.
    page.evaluate("() => document.querySelector('[data-figure=zoo]').scrollIntoView({ block: 'center' })")
    wait_until(page, "() => document.querySelector('[data-figure=zoo]').data?.length > 0")
    assert sum("/api/v1/spectrum?" in url for url in asked) >= 8
    # Printing draws every chart the reader never reached, before the print is laid out.
    page.evaluate("() => window.scrollTo(0, 0)")
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    wait_until(page, ALL_DRAWN)
    assert log.errors == []
    page.close()


KEPT = "/api/v1/experiments/drift/kept?"
STATES = ({"target": "cos", "frequency": 3, "steps": 2, "w_std": 1.5, "widths": "8,16", "width": 16},
          {"target": "drawn", "drawing": "0,0.5,-1,0.25", "noise": 0.05, "width": 16},
          {"target": "bump", "depth": 3, "activation": "erf", "learning_rate": 0.5})
UNUSED_PRELOAD = "preloaded using link preload but not used"


def test_the_bare_page_preloads_its_first_experiment_and_takes_that_answer(browser: Browser, base_url: str) -> None:
    """Opened without a query, the page's head preloads its experiment from the kept address (app/web/routes.py
    FIRST_EXPERIMENT): first.js's fetch takes that response (one request, no warning of an unused preload) and the
    experiment is not streamed. Its parameters are the ones the page's state names (api.js driftParams), written as it
    writes them: otherwise the fetch would ask again. A page with a query has no preload."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log = PageLog(page)
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(base_url)  # computed (or found kept) for a first visit: the preload answers 204, the page streams it
    wait_until(page, "() => document.querySelector('[data-figure=widen]').dataset.drawn === 'true'")
    page.goto(base_url)
    wait_until(page, "() => document.querySelector('[data-figure=widen]').dataset.drawn === 'true'")
    page.wait_for_timeout(500)
    preload, asked, streamed, own = page.evaluate(
        """async () => {
          const module = (name) => document.querySelector('script[src$="/main.js"]').src.replace('main.js', name);
          const { apiParams } = await import(module('scenarios.js'));
          const { parseState } = await import(module('state.js'));
          const names = performance.getEntriesByType('resource').map((r) => r.name);
          return [document.getElementById('first-experiment').href, names.filter((n) => n.includes('/drift/kept?')),
                  names.filter((n) => n.includes('/drift/stream?')), apiParams(parseState('').state).toString()];
        }""")
    assert preload == base_url + KEPT + own  # the same parameters, in the same order, written the same way
    assert asked == [preload] and streamed == []
    assert not [w for w in warnings if UNUSED_PRELOAD in w]
    assert log.errors == []
    for state in STATES:  # app/parameters.py page_request writes what driftParams writes, for other states too
        written = page.evaluate("""async (query) => {
          const module = (name) => document.querySelector('script[src$="/main.js"]').src.replace('main.js', name);
          const { driftParams } = await import(module('api.js'));
          const { parseState } = await import(module('state.js'));
          return driftParams(parseState('?' + new URLSearchParams(query)).state).toString();
        }""", {name: str(value) for name, value in state.items()})
        assert written == page_request(page_defaults() | state)
    page.goto(base_url + "/?width=128")
    assert page.evaluate("() => document.getElementById('first-experiment')") is None
    page.close()
