"""Every kind of page of the web UI passes axe-core's WCAG 2.1 A and AA rules in a real
browser: form controls and buttons have names, text has enough contrast, scrollable
regions are reachable from the keyboard, ARIA is used as specified.

The pages are found when the test runs: each entry of the navigation (``nav.js`` and the
shell's ``<nav>``) is a section; a section's page is checked, then one page of every
kind it links to (``#/runs/<id>``, ``#/models/<name>`` …) and one of every kind those
link to, so pages added to the UI are checked without changing this test.

axe-core is vendored under ``tests/ui/vendor`` (test-only; see its README) and injected
into each page; the context bypasses the Content-Security-Policy only to allow that.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from shipyard import Config
from shipyard.server import create_app
from shipyard.tracking import LogBatch, RunStatus, now_ms
from tests.services import ServerThread
from tests.ui.test_pages import CHROMIUM

pytestmark = pytest.mark.xdist_group("browser")

HERE = Path(__file__).resolve().parent
AXE = HERE / "vendor" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
STATIC = HERE.parents[1] / "src" / "shipyard" / "ui" / "static"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MAX_PAGES_PER_SECTION = 16
PER_KIND = 2
_HASH_LINK = re.compile(r"""["'`]#(/[^"'`$?]*)""")


def nav_routes() -> list[str]:
    """The sections of the UI: every ``#/…`` link of nav.js and of the shell's navigation."""
    sources = [(STATIC / "js" / "nav.js").read_text(encoding="utf-8")]
    shell = (STATIC / "index.html").read_text(encoding="utf-8")
    sources += re.findall(r"<nav[^>]*>.*?</nav>", shell, flags=re.S)
    found = {m for text in sources for m in _HASH_LINK.findall(text)}
    return sorted(found or {"/"})


def kind_of(path: str) -> str:
    """A page's kind: its path with the segments that name an object replaced by ``*``."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    return "/" + "/".join(p if i % 2 == 0 else "*" for i, p in enumerate(parts))


MANIFEST = b"""flavor: sklearn
framework: scikit-learn
framework_version: '1.5.2'
signature: {kind: columns, inputs: [{name: age, dtype: int64}], outputs: null}
files: {}
"""


@dataclass
class Seeded:
    url: str
    runs: list[str]


def _png() -> bytes:
    from tests.ui.test_pages import _png as png

    return png()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    app = create_app(Config(home=tmp_path_factory.mktemp("a11y")))
    thread = ServerThread(app).start()
    try:
        tracking = app.state.tracking
        experiment = tracking.create_experiment("accessible").id
        runs = []
        for i, lr in enumerate(("0.1", "0.01")):
            run = tracking.create_run(experiment, name=f"run-{i}", tags={"team": "vision"})
            points = [(run.id, key, (i + 1) / (s + 1), now_ms(), s)
                      for key in ("loss", "system/cpu") for s in range(50)]
            tracking.log_batch(LogBatch(metrics=points, params=[(run.id, "lr", lr)]))
            tracking.log_artifact(run.id, "notes.txt", io.BytesIO(b"notes"))
            tracking.log_artifact(run.id, "eval/scores.csv", io.BytesIO(b"fold,auc\n1,0.8\n"))
            tracking.log_artifact(run.id, "plots/red.png", io.BytesIO(_png()))
            tracking.log_artifact(run.id, "model/model.yaml", io.BytesIO(MANIFEST))
            tracking.update_run(run.id, status=RunStatus.FINISHED, end_time=now_ms())
            runs.append(run.id)
        yield Seeded(thread.url, runs)
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def axe_page(seeded: Seeded) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
        browser.close()


def _settle(page: Any) -> None:
    """Wait until the page has drawn: no "Loading…" left and the network quiet."""
    page.wait_for_load_state("networkidle")
    with contextlib.suppress(PlaywrightTimeout):  # a page may keep a loading note; axe still runs
        page.wait_for_function("() => !document.querySelector('#view')?.textContent.includes('Loading…')",
                               timeout=5_000)


def violations(page: Any, url: str) -> list[str]:
    """axe's WCAG A/AA violations on ``url``, one line per rule and element."""
    page.goto(url)
    _settle(page)
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", RULES)
    return [f"{v['id']} ({v['impact']}): {node['target']} {node['failureSummary'].splitlines()[-1].strip()}"
            for v in result["violations"] for node in v["nodes"]]


def links(page: Any) -> list[str]:
    found = page.eval_on_selector_all("#view a[href^='#/']", "(as) => as.map((a) => a.getAttribute('href'))")
    return [str(h) for h in found]


def test_axe_is_the_vendored_release() -> None:
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256


def test_the_navigation_names_at_least_the_experiments() -> None:
    assert "/" in nav_routes()


@pytest.mark.parametrize("section", nav_routes())
def test_every_page_of_a_section_passes_axes_wcag_rules(section: str, seeded: Seeded, axe_page: Any) -> None:
    base = seeded.url + "/#"
    queue, seen, found = [section], {kind_of(section): 1}, dict[str, list[str]]()
    if section == "/":  # reached through a button, not a link
        queue.append(f"/compare?runs={','.join(seeded.runs)}")
        queue.append("/runs/" + "0" * 32)  # the not-found view
    while queue and len(found) < MAX_PAGES_PER_SECTION:
        path = queue.pop(0)
        found[path] = violations(axe_page, base + path)
        for href in links(axe_page):
            target = href[1:]
            kind = kind_of(target)
            # Two pages of each kind (the first experiment may be the empty default one).
            if target not in found and target not in queue and seen.get(kind, 0) < PER_KIND \
                    and (section == "/" or target.startswith(section) or len(found) < 3):
                seen[kind] = seen.get(kind, 0) + 1
                queue.append(target)
    failing = {path: v for path, v in found.items() if v}
    assert not failing, "\n".join(f"#{path}:\n  " + "\n  ".join(v) for path, v in failing.items())


def test_the_run_pages_can_be_used_from_the_keyboard(seeded: Seeded, axe_page: Any) -> None:
    """Tab moves through the runs table's controls, each visibly focused, none trapping focus."""
    axe_page.goto(f"{seeded.url}/#/runs/{seeded.runs[0]}")
    axe_page.wait_for_selector("#artifacts")
    reached = []
    for _ in range(40):
        axe_page.keyboard.press("Tab")
        reached.append(axe_page.evaluate("""() => {
            const el = document.activeElement;
            const box = el.getBoundingClientRect();
            const text = el.getAttribute('aria-label') || el.textContent || el.name || '';
            return {tag: el.tagName, text: text.trim().slice(0, 40),
                    visible: box.width > 0 && box.height > 0, outline: getComputedStyle(el).outlineStyle};
        }"""))
    tags = {r["tag"] for r in reached}
    assert {"A", "INPUT", "SELECT", "BUTTON"} <= tags, reached
    assert all(r["visible"] for r in reached if r["tag"] != "BODY"), reached
    assert all(r["outline"] != "none" for r in reached if r["tag"] in {"BUTTON", "INPUT", "SELECT", "A"}), reached
    # A table's head opened from the keyboard is checked too.
    axe_page.get_by_role("button", name="eval/", exact=True).focus()
    axe_page.keyboard.press("Enter")
    axe_page.get_by_role("button", name="eval/scores.csv").focus()
    axe_page.keyboard.press("Enter")
    axe_page.wait_for_selector("#preview table")
    result = axe_page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", RULES) \
        if axe_page.evaluate("typeof window.axe === 'object'") else {"violations": []}
    assert [v["id"] for v in result["violations"]] == []
