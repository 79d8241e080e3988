"""The pipeline pages in a real browser: the paged list of runs, a run's step graph and logs,
and a run in progress that the page follows live to its end, then stops asking about."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shipyard import Client, Config
from shipyard.pipelines import PipelineFailed, pipeline, step
from shipyard.server import create_app
from shipyard.server._pipelines_schemas import PipelineGraph
from tests.pipelines import steps
from tests.services import ServerThread
from tests.ui.test_pages import HOSTILE, Tab, browser, tab

__all__ = ["browser", "tab"]  # the browser fixtures of the page tests

pytestmark = pytest.mark.xdist_group("browser")
API = "/api/v1/pipelines/runs"


@step
def wait_for(gate: str) -> str:
    """Waits until the file ``gate`` exists, then answers what it holds."""
    deadline = time.monotonic() + 30
    while not Path(gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"nobody opened {gate}")
        time.sleep(0.05)
    return Path(gate).read_text()


@step
def shout(text: str, note: str) -> str:
    print(f"shouting {text!r}; note: {note}")
    return text.upper()


@pipeline
def gated(gate: str, note: str = HOSTILE):
    return shout(wait_for(gate), note)


@dataclass
class Site:
    url: str
    client: Client
    home: Path
    runs: dict[str, str]
    shots: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("pipeline-ui")
    client = Client(Config(home=home / "home", flush_interval=0.2))
    runs = {"computed": str(steps.frames.run(client=client, executor="inline").run_id),
            "cached": str(steps.frames.run(client=client, executor="inline").run_id)}
    with pytest.raises(PipelineFailed) as failed:
        steps.chain.run({"log": str(home / "log.txt"), "fail_at": 3}, client=client, executor="inline")
    runs["failed"] = failed.value.run_id  # type: ignore[attr-defined]
    thread = ServerThread(create_app(client=client)).start()
    try:
        yield Site(thread.url, client, home, runs, tmp_path_factory.mktemp("screenshots"))
    finally:
        thread.stop()


class InProgress:
    """A run of ``gated`` in a thread, held at its first step until :meth:`release`."""

    def __init__(self, site: Site, name: str) -> None:
        self.gate = site.home / f"{name}.gate"
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(site.client,), daemon=True)
        self.thread.start()
        self.run_id = self._started(site.url)

    def _run(self, client: Client) -> None:
        try:
            gated.run({"gate": str(self.gate)}, client=client, executor="inline")
        except BaseException as exc:  # noqa: BLE001 - reported by release()
            self.failure = exc

    def _started(self, url: str) -> str:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for run in httpx.get(url + API, params={"pipeline": "gated", "status": "RUNNING"}).json()["items"]:
                if run["params"]["gate"] == str(self.gate):
                    return str(run["run_id"])
            time.sleep(0.1)
        raise AssertionError("the run did not start")

    def release(self) -> None:
        self.gate.write_text(self.gate.stem)
        self.thread.join(timeout=20)
        assert self.failure is None, self.failure


def step_state(tab: Tab, node: str) -> str | None:
    value = tab.page.get_attribute(f"#dag g[data-node={node}]", "data-state")
    return None if value is None else str(value)


def test_the_list_pages_through_pipeline_runs_and_filters_them(site: Site, tab: Tab) -> None:
    tab.page.goto(site.url + "/")
    tab.page.get_by_role("link", name="Pipelines").click()
    tab.page.wait_for_selector("#pipeline-runs tbody tr")
    shown = tab.page.locator("#pipeline-runs tbody tr").evaluate_all("(rows) => rows.map((r) => r.dataset.run)")
    assert shown[:3] == [site.runs["failed"], site.runs["cached"], site.runs["computed"]]  # newest first
    cached = tab.page.locator(f"#pipeline-runs tr[data-run='{site.runs['cached']}']").inner_text()
    assert "4 cached" in cached and "FINISHED" in cached
    tab.shot(site.shots, "pipelines")

    tab.page.goto(f"{site.url}/#/pipelines?pipeline=frames&size=25")
    tab.page.wait_for_function("() => document.querySelectorAll('#pipeline-runs tbody tr').length === 2")
    tab.page.select_option("#status-filter", "FAILED")
    tab.page.wait_for_selector("text=No pipeline run matches.")
    assert "status=FAILED" in tab.page.url  # the filter is in the address

    tab.page.goto(f"{site.url}/#/pipelines?size=2")  # two a page: the API's page token leads on
    tab.page.wait_for_function("() => document.querySelectorAll('#pipeline-runs tbody tr').length === 2")
    first = tab.page.locator("#pipeline-runs tbody tr").evaluate_all("(rows) => rows.map((r) => r.dataset.run)")
    tab.page.get_by_role("button", name="Next →").click()
    tab.page.wait_for_function(f"() => !document.querySelector(\"#pipeline-runs tr[data-run='{first[0]}']\")")
    second = tab.page.locator("#pipeline-runs tbody tr").evaluate_all("(rows) => rows.map((r) => r.dataset.run)")
    assert second and not set(first) & set(second)
    tab.page.get_by_role("button", name="← Previous").click()
    tab.page.wait_for_selector(f"#pipeline-runs tr[data-run='{first[0]}']")
    assert tab.errors == []


def test_a_run_shows_its_graph_its_steps_cache_hits_and_a_failed_steps_traceback(site: Site, tab: Tab) -> None:
    tab.page.goto(f"{site.url}/#/pipelines/runs/{site.runs['cached']}")
    tab.page.wait_for_selector("#dag svg g[data-node]")
    nodes = tab.page.locator("#dag g[data-node]").evaluate_all("(gs) => gs.map((g) => g.dataset.state)")
    assert nodes == ["cached"] * 4
    assert tab.page.locator("#dag g.cache-hit").count() == 4
    assert tab.page.locator("#dag path.dag-edge").count() == 4  # make_frame feeds both sums, both feed add
    assert "hit from" in tab.page.locator("#steps tbody tr").first.inner_text()

    tab.page.goto(f"{site.url}/#/pipelines/runs/{site.runs['failed']}")
    tab.page.wait_for_selector("#step-log pre")  # the failed step is chosen, its traceback shown
    assert "ValueError: bad input" in tab.page.locator("#step-log pre").inner_text()
    assert step_state(tab, "always_fails") == "failed"
    states = {n: step_state(tab, n) for n in ("record", "record_2", "always_fails", "record_3")}
    assert states["record"] == "done" and states["record_3"] in ("skipped", "pending")
    tab.page.locator("#dag g[data-node=record]").focus()
    tab.page.keyboard.press("Enter")  # a node is chosen with the keyboard too
    tab.page.wait_for_function("() => document.getElementById('log-title').textContent === 'Log of record'")
    assert "step=record" in tab.page.url
    tab.shot(site.shots, "pipeline-run-failed")
    assert tab.errors == []


def test_a_run_in_progress_updates_live_to_its_end_and_then_stops_asking(site: Site, tab: Tab) -> None:
    running = InProgress(site, "live")
    asked: list[float] = []
    tab.page.on("request", lambda r: asked.append(time.monotonic()) if f"{API}/{running.run_id}" in r.url else None)
    tab.page.goto(f"{site.url}/#/pipelines/runs/{running.run_id}")
    tab.page.wait_for_selector("#dag g[data-node=wait_for][data-state=running]")
    assert "In progress" in tab.page.locator("#live-state").inner_text()
    assert tab.page.locator("#dag path.dag-edge[data-from=wait_for][data-to=shout]").count() == 1
    assert step_state(tab, "shout") == "pending"
    tab.shot(site.shots, "pipeline-run-live")

    running.release()
    tab.page.wait_for_function("() => document.querySelector('#dag g[data-node=shout]')?.dataset.state === 'done'",
                               timeout=15_000)
    tab.page.wait_for_function("() => document.getElementById('live-state').textContent.includes('FINISHED')")
    assert step_state(tab, "wait_for") == "done"
    assert tab.page.locator(".summary .status").inner_text() == "FINISHED"
    tab.page.locator("#steps button", has_text="shout").click()
    tab.page.wait_for_selector("#step-log pre")
    assert HOSTILE in tab.page.locator("#step-log pre").inner_text()  # what the step printed, as text
    assert tab.page.locator("img[src=x]").count() == 0
    tab.shot(site.shots, "pipeline-run-finished")

    ended = len(asked)
    tab.page.wait_for_timeout(3500)  # more than two polling intervals
    assert len(asked) == ended  # the run ended: nothing more is asked
    assert tab.errors == [] and tab.dialogs == []


def test_leaving_a_run_in_progress_stops_the_polling(site: Site, tab: Tab) -> None:
    running = InProgress(site, "left")
    try:
        asked: list[str] = []
        tab.page.on("request", lambda r: asked.append(r.url) if f"{API}/{running.run_id}" in r.url else None)
        tab.page.goto(f"{site.url}/#/pipelines/runs/{running.run_id}")
        tab.page.wait_for_selector("#dag g[data-node=wait_for][data-state=running]")
        tab.page.wait_for_timeout(1700)
        assert len(asked) >= 3  # the run, its graph, then at least one poll
        tab.page.get_by_role("link", name="Pipelines").first.click()
        tab.page.wait_for_selector("#pipeline-runs")
        left = len(asked)
        tab.page.wait_for_timeout(3500)
        assert len(asked) == left
    finally:
        running.release()
    assert tab.errors == []


def test_a_missing_pipeline_run_shows_the_not_found_view(site: Site, tab: Tab) -> None:
    plain = site.client.create_run("plain").id  # a run, but of no pipeline
    for path in ("0" * 32, "not-a-run", plain):
        tab.page.goto(f"{site.url}/#/pipelines/runs/{path}")
        tab.page.wait_for_selector("section.not-found")
        assert tab.page.locator("section.not-found h1").inner_text() == "Not found"
    tab.shot(site.shots, "pipeline-run-not-found")
    assert tab.errors == []


def test_the_graph_route_answers_the_pipelines_stored_graph(site: Site) -> None:
    answer = httpx.get(f"{site.url}{API}/{site.runs['computed']}/graph")
    assert answer.status_code == 200
    graph = PipelineGraph.model_validate(answer.json())
    upstream = {node.name: sorted(node.upstream) for node in graph.steps}
    assert upstream == {"make_frame": [], "column_sum": ["make_frame"], "column_sum_2": ["make_frame"],
                        "add": ["column_sum", "column_sum_2"]}
    plain = site.client.create_run("plain-for-graph").id
    assert httpx.get(f"{site.url}{API}/{plain}/graph").status_code == 404
