"""Who may do what: global roles, per-resource grants, and the one decision function.

Actions, weakest first: ``read``, ``edit`` (create and change), ``manage`` (delete, and
govern a resource), ``approve`` (move a guarded alias, force past a promotion gate with a
reason), ``admin`` (users, tokens, grants). The global role allows:

========= =====================================
viewer    read
editor    read, edit, manage
approver  read, edit, manage, approve
admin     everything
========= =====================================

A grant on one experiment or registered model widens that on the resource alone:
``read`` < ``edit`` < ``manage``. Grants never give ``approve`` or ``admin``.

>>> may(User("ana", "viewer"), "read", None)
True
>>> may(User("ana", "viewer"), "edit", Resource("experiment", "3"))
False
>>> may(User("ana", "viewer", grants=(Grant("ana", "experiment", "3", "edit"),)), "edit",
...     Resource("experiment", "3"))
True
"""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.access._entities import PERMISSIONS, ROLES, Grant, User

__all__ = ["ACTIONS", "Resource", "may"]

ACTIONS = ("read", "edit", "manage", "approve", "admin")

_ROLE_ACTIONS = {
    "viewer": frozenset({"read"}),
    "editor": frozenset({"read", "edit", "manage"}),
    "approver": frozenset({"read", "edit", "manage", "approve"}),
    "admin": frozenset(ACTIONS),
}
assert set(_ROLE_ACTIONS) == set(ROLES)


@dataclass(frozen=True)
class Resource:
    """One experiment (``id`` its id) or registered model (``id`` its name)."""

    type: str
    id: str


def _granted(grants: tuple[Grant, ...], action: str, resource: Resource) -> bool:
    if action not in PERMISSIONS:
        return False
    need = PERMISSIONS.index(action)
    return any(g.resource_type == resource.type and g.resource_id == resource.id
               and PERMISSIONS.index(g.permission) >= need for g in grants)


def may(user: User, action: str, resource: Resource | None = None) -> bool:
    """Whether ``user`` may take ``action`` (on ``resource``, when it concerns one).

    A disabled user may do nothing; an unknown action or role allows nothing.
    """
    if user.disabled or action not in ACTIONS:
        return False
    if action in _ROLE_ACTIONS.get(user.role, frozenset()):
        return True
    return resource is not None and _granted(user.grants, action, resource)
