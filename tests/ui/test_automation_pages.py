"""The automation pages in a real browser, signed in: policies with their document, versions
and audit trail; a run's evidence as tables; an approver approving a run awaiting approval;
and the API's refusals (a viewer's role, a run that moved meanwhile) shown in its own words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard import Client, Config
from shipyard.automation import AutomationPolicy, SqlAutomationStore
from shipyard.server import create_app
from shipyard.testing.datasets import small_frame
from tests.pipelines import steps
from tests.services import ServerThread
from tests.ui.test_pages import HOSTILE, Tab, browser, tab

__all__ = ["browser", "tab"]  # the browser fixtures of the page tests

pytestmark = pytest.mark.xdist_group("browser")
PASSWORD = "correct horse battery"
POLICY: dict[str, Any] = {
    "name": "churn-retrain", "model": "churn", "description": HOSTILE,
    "triggers": [{"type": "manual"}],
    "retrain": {"pipeline": "frames", "params": {"n": 5}},
    "evaluation": {"metrics": ["auc", "accuracy"], "data": "ds:churn-holdout@latest", "min_improvement": 0.01},
    "guards": {"require_approval": True},
}
EVIDENCE = {
    "trigger": {"type": "manual", "note": HOSTILE},
    "evaluation": {"auc": {"champion": 0.81, "challenger": 0.84, "difference": 0.03, "interval": [0.012, 0.048],
                           "p_value": 0.004},
                   "accuracy": {"champion": 0.77, "challenger": 0.78, "difference": 0.01, "interval": [-0.004, 0.021],
                                "p_value": 0.21}},
    "shadow": {"requests": 1000, "comparison": [
        {"metric": "latency_p99_ms", "champion": 21.5, "challenger": 19.0},
        {"metric": "agreement", "champion": None, "challenger": 0.97}]},
}


@dataclass
class Site:
    url: str
    store: SqlAutomationStore
    shots: Path

    def awaiting(self, evidence: dict[str, Any] | None = None) -> str:
        """A run of the policy, moved to awaiting approval (an approval sends it to retraining)."""
        run = self.store.create_run("churn-retrain", evidence=evidence)
        self.store.transition(run.id, "awaiting_approval", expect="triggered", resume_state="retraining",
                              reason="the policy asks a person first")
        return run.id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    client = Client(Config(home=tmp_path_factory.mktemp("automation-ui")))
    steps.frames.run(client=client, executor="inline")  # the pipeline the policy retrains with
    client.registry_store.create_registered_model("churn")
    client.register_dataset("churn-holdout", small_frame())
    app = create_app(client=client)
    thread = ServerThread(app).start()
    try:
        store: SqlAutomationStore = app.state.automation
        store.apply(AutomationPolicy.from_json({**POLICY, "description": "first"}), actor="april")
        store.apply(AutomationPolicy.from_json(POLICY), actor="april")
        for name, role in (("april", "approver"), ("vic", "viewer")):
            app.state.access.create_user(name, role, PASSWORD)
        yield Site(thread.url, store, tmp_path_factory.mktemp("screenshots"))
    finally:
        thread.stop()


def sign_in(tab: Tab, site: Site, user: str, path: str) -> None:
    tab.page.goto(f"{site.url}/#{path}")
    tab.page.wait_for_selector("form.login")
    tab.page.fill("#username", user)
    tab.page.fill("#password", PASSWORD)
    tab.page.get_by_role("button", name="Sign in").click()
    tab.page.wait_for_selector("main h1:not(:has-text('Sign in'))")


def test_policies_and_runs_are_listed_and_a_policy_shows_its_document_versions_and_audit(site: Site,
                                                                                         tab: Tab) -> None:
    run = site.awaiting()
    sign_in(tab, site, "vic", "/automation")
    tab.page.wait_for_selector("#policies tbody tr")
    assert "churn-retrain" in tab.page.locator("#policies").inner_text()
    tab.page.wait_for_selector(f"#automation-runs tr[data-run='{run}']")
    assert "awaiting approval" in tab.page.locator(f"#automation-runs tr[data-run='{run}']").inner_text()
    tab.shot(site.shots, "automation")

    tab.page.get_by_role("link", name="churn-retrain").first.click()
    tab.page.wait_for_selector("#policy-audit tbody tr")
    document = tab.page.locator("#policy-document").inner_text()
    assert "model: churn" in document and "require_approval: true" in document  # YAML first
    tab.page.get_by_label("JSON").check()
    current = site.store.get_policy("churn-retrain").policy.to_json()
    assert json.loads(tab.page.locator("#policy-document").inner_text()) == current
    assert [v.strip() for v in tab.page.locator("#policy-versions tbody td:first-child").all_inner_texts()] == \
        ["v2 (current)", "v1"]
    audit = tab.page.locator("#policy-audit tbody").inner_text()
    assert "apply_policy" in audit and "create_run" in audit
    assert tab.page.locator(f"#policy-runs tr[data-run='{run}']").count() == 1
    tab.shot(site.shots, "automation-policy")
    tab.page.locator("#policy-versions a", has_text="v1").click()
    tab.page.wait_for_function(
        "() => document.getElementById('policy-document')?.textContent.includes('description: first')")
    assert tab.errors == []


def test_an_approver_approves_a_run_awaiting_approval_and_sees_its_state_change(site: Site, tab: Tab) -> None:
    run = site.awaiting(EVIDENCE)
    sign_in(tab, site, "april", f"/automation/runs/{run}")
    tab.page.wait_for_selector("#approve")
    assert tab.page.locator("#run-state").inner_text() == "awaiting approval"
    auc = tab.page.locator("section[data-stage=evaluation] tr", has_text="auc").inner_text()
    assert "[0.012, 0.048]" in auc and "0.84" in auc  # a metric table with its interval
    shadow = tab.page.locator("section[data-stage=shadow] table table").inner_text()
    assert "latency_p99_ms" in shadow and "19" in shadow  # the comparison, one row per metric
    tab.shot(site.shots, "automation-run-awaiting")

    tab.page.locator("#approve").click()  # no reason yet: nothing is sent
    assert tab.page.locator("#decision-reason").get_attribute("aria-invalid") == "true"
    assert site.store.get_run(run).state == "awaiting_approval"
    tab.page.get_by_label("Reason (required; kept in the audit trail)").fill("the interval clears zero")
    tab.page.locator("#approve").click()
    tab.page.wait_for_function("() => document.getElementById('run-state').textContent === 'retraining'")
    assert site.store.get_run(run).state == "retraining"
    assert tab.page.locator("#approve").count() == 0
    tab.page.wait_for_selector("#run-audit tbody tr:has-text('approve')")
    approval = tab.page.locator("#run-audit tbody tr", has_text="approve").inner_text()
    assert "april" in approval and "the interval clears zero" in approval
    tab.shot(site.shots, "automation-run-approved")
    assert tab.errors == []


def test_a_tab_that_did_not_sign_in_learns_the_sessions_user_and_role(site: Site, tab: Tab) -> None:
    run = site.awaiting()
    sign_in(tab, site, "vic", "/automation")
    tab.page.evaluate("() => sessionStorage.clear()")  # as a new tab on the same session, or after SSO
    tab.page.goto(f"{site.url}/#/automation/runs/{run}")
    tab.page.reload()
    tab.page.wait_for_selector("text=your role may not decide it")
    assert tab.page.locator("#approve").count() == 0
    assert tab.page.locator("#who").inner_text() == "vic (viewer)"
    assert tab.errors == []


def test_refusals_show_the_apis_message(site: Site, tab: Tab) -> None:
    moved = site.awaiting()
    sign_in(tab, site, "april", f"/automation/runs/{moved}")
    tab.page.wait_for_selector("#approve")
    site.store.reject(moved, "decided elsewhere", actor="someone")
    tab.page.fill("#decision-reason", "looks good")
    tab.page.locator("#approve").click()
    tab.page.wait_for_function("() => document.getElementById('decision-error').textContent.length > 0")
    expected = httpx.post(f"{site.url}/api/v1/automation/runs/{moved}/approve", json={"reason": "looks good"},
                          auth=("april", PASSWORD))
    assert expected.status_code == 409
    assert tab.page.locator("#decision-error").inner_text() == expected.json()["error"]["message"]

    run = site.awaiting()
    tab.page.get_by_role("button", name="Sign out").click()
    tab.page.wait_for_selector("form.login")
    sign_in(tab, site, "vic", f"/automation/runs/{run}")
    tab.page.wait_for_selector("#decision")
    assert tab.page.locator("#approve").count() == 0  # a viewer is not offered the decision
    assert "awaits approval by an approver" in tab.page.locator("#decision").inner_text()
    # A tab whose idea of the role is stale (changed since it signed in) offers the decision:
    # the API refuses it, and the page says why.
    tab.page.evaluate("sessionStorage.setItem('shipyard.user', 'vic (approver)')")
    tab.page.reload()
    tab.page.fill("#decision-reason", "let it through")
    tab.page.locator("#reject").click()
    tab.page.wait_for_function("() => document.getElementById('decision-error').textContent.length > 0")
    expected = httpx.post(f"{site.url}/api/v1/automation/runs/{run}/reject", json={"reason": "let it through"},
                          auth=("vic", PASSWORD))
    assert expected.status_code == 403
    assert tab.page.locator("#decision-error").inner_text() == expected.json()["error"]["message"]
    assert site.store.get_run(run).state == "awaiting_approval"
    tab.shot(site.shots, "automation-run-refused")
    assert tab.errors == []


def test_names_and_evidence_are_shown_as_text(site: Site, tab: Tab) -> None:
    run = site.awaiting(EVIDENCE)
    sign_in(tab, site, "vic", f"/automation/runs/{run}")
    tab.page.wait_for_selector("section[data-stage=trigger]")
    assert HOSTILE in tab.page.locator("section[data-stage=trigger]").inner_text()
    tab.page.goto(f"{site.url}/#/automation/policies/churn-retrain")
    tab.page.wait_for_selector("#policy-document")
    assert HOSTILE in tab.page.locator("#policy-document").inner_text()
    assert tab.page.locator("img[src=x]").count() == 0
    tab.page.wait_for_timeout(300)  # an injected onerror would have fired by now
    assert tab.dialogs == [] and tab.errors == []


def test_a_missing_policy_or_run_shows_the_not_found_view(site: Site, tab: Tab) -> None:
    sign_in(tab, site, "vic", "/automation/runs/" + "0" * 32)
    for path in ("runs/" + "0" * 32, "policies/nope", "policies/churn-retrain?version=99"):
        tab.page.goto(f"{site.url}/#/automation/{path}")
        tab.page.wait_for_selector("section.not-found")
        assert tab.page.locator("section.not-found h1").inner_text() == "Not found"
    tab.shot(site.shots, "automation-not-found")
    assert tab.errors == []
