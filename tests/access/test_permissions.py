"""The decision function: global roles, per-resource grants, disabled users."""

from __future__ import annotations

import pytest

from shipyard.access import ACTIONS, ROLES, Grant, Resource, User, may

EXP = Resource("experiment", "3")
MODEL = Resource("registered_model", "churn")

ALLOWED = {
    "viewer": {"read"},
    "editor": {"read", "edit", "manage"},
    "approver": {"read", "edit", "manage", "approve"},
    "admin": set(ACTIONS),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_each_global_role_allows_exactly_its_actions(role: str, action: str) -> None:
    assert may(User("u", role), action, None) is (action in ALLOWED[role])
    assert may(User("u", role), action, EXP) is (action in ALLOWED[role])


@pytest.mark.parametrize(("permission", "allowed"), [("read", {"read"}), ("edit", {"read", "edit"}),
                                                     ("manage", {"read", "edit", "manage"})])
def test_a_grant_widens_a_viewer_on_that_resource_only(permission: str, allowed: set[str]) -> None:
    user = User("u", "viewer", grants=(Grant("u", "experiment", "3", permission),))
    for action in ACTIONS:
        assert may(user, action, EXP) is (action in allowed | {"read"}), action
        assert may(user, action, Resource("experiment", "4")) is (action == "read"), action
        assert may(user, action, Resource("registered_model", "3")) is (action == "read"), action


def test_grants_never_give_approve_or_admin() -> None:
    user = User("u", "editor", grants=(Grant("u", "registered_model", "churn", "manage"),))
    assert not may(user, "approve", MODEL) and not may(user, "admin", MODEL)


def test_a_disabled_user_an_unknown_role_or_action_may_do_nothing() -> None:
    assert not may(User("u", "admin", disabled=True), "read")
    assert not may(User("u", "root"), "read")
    assert not may(User("u", "admin"), "fly")
