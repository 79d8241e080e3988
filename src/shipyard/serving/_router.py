"""Routes: which deployment answers a request (weighted canary split, sticky keys, shadow).

A :class:`ModelRouter` holds one :class:`Slot` per target of a served model, plus an
optional shadow slot. Each slot points at the deployment currently live for its URI;
swapping that pointer is the atomic switch of alias following. The set of slots itself
changes the same way: :meth:`ModelRouter.install` replaces targets, weights and shadow
in one step on the event loop (how serving follows a registry traffic split).

Choosing a target: with a sticky key (the value of the model's ``sticky_header``)
the key's CRC-32 picks the target, so one client always lands on the same one while
the weights stay unchanged; without, a uniform random draw does.

>>> from shipyard.serving._config import ModelConfig, Target
>>> router = ModelRouter(ModelConfig("churn", (Target("models:/churn@production", 90),
...                                            Target("models:/churn@challenger", 10))))
>>> router.choose(b"user-42").label == router.choose(b"user-42").label
True
"""

from __future__ import annotations

import random
import zlib
from typing import TYPE_CHECKING

from shipyard.errors import NotFound, Unavailable
from shipyard.serving._config import ModelConfig

if TYPE_CHECKING:
    from shipyard.serving._deployment import Deployment

__all__ = ["ModelRouter", "Slot"]


class Slot:
    """A target of a route: its URI, weight, and the deployment live for it now."""

    __slots__ = ("deployment", "follows", "label", "uri", "weight")

    def __init__(self, label: str, uri: str, weight: float, follows: bool) -> None:
        self.label = label
        self.uri = uri
        self.weight = weight
        self.follows = follows
        self.deployment: Deployment | None = None

    def live(self) -> Deployment:
        deployment = self.deployment
        if deployment is None:
            raise Unavailable(f"route {self.label!r} has no model loaded yet", route=self.label)
        return deployment


class ModelRouter:
    """The targets (and shadow) of one served model."""

    def __init__(self, config: ModelConfig) -> None:
        self.name = config.name
        self.config = config
        self.sticky_header = config.sticky_header.encode("latin-1")
        self.traffic: str | None = None  # the canonical split installed, None: the config's own routes
        self.slots: list[Slot] = []
        self.shadow: Slot | None = None
        self.shadow_fraction = 0.0
        self._edges: list[float] = []
        shadow = config.shadow
        self.install([Slot(t.label, t.uri, t.weight, t.follows) for t in config.targets],
                     None if shadow is None else Slot(shadow.label, shadow.uri, 0.0, True),
                     0.0 if shadow is None else shadow.fraction)

    def install(self, slots: list[Slot], shadow: Slot | None = None, fraction: float = 0.0,
                traffic: str | None = None) -> None:
        """Make ``slots`` (weights > 0 in total) the targets and ``shadow`` the shadow, at once.

        Synchronous, so on the event loop no request sees half of a change; slots whose
        deployment is None answer 503 until loaded, so load them first.
        """
        total = sum(slot.weight for slot in slots)
        if not slots or total <= 0:
            raise ValueError("a route needs at least one target with a weight above 0")
        edges, running = [], 0.0
        for slot in slots:
            running += slot.weight / total
            edges.append(running)
        self.slots, self._edges = list(slots), edges
        self.shadow, self.shadow_fraction = shadow, (fraction if shadow is not None else 0.0)
        self.traffic = traffic

    @property
    def all_slots(self) -> list[Slot]:
        return self.slots if self.shadow is None else [*self.slots, self.shadow]

    @property
    def ready(self) -> bool:
        return all(slot.deployment is not None for slot in self.all_slots)

    def choose(self, key: bytes | None = None) -> Slot:
        """The target for one request: by ``key`` when given (sticky), else at random."""
        slots, edges = self.slots, self._edges
        if len(slots) == 1:
            return slots[0]
        point = zlib.crc32(key) / 4294967296.0 if key else random.random()
        for slot, edge in zip(slots, edges, strict=True):
            if point < edge and slot.weight > 0:
                return slot
        return next(slot for slot in reversed(slots) if slot.weight > 0)

    def by_version(self, version: str) -> Slot:
        """The slot now serving ``version`` (``/versions/{v}`` URLs); ``NotFound`` otherwise."""
        for slot in self.all_slots:
            if slot.deployment is not None and slot.deployment.version == version:
                return slot
        raise NotFound(f"model {self.name!r} has no version {version!r} loaded", resource="model_version",
                       model=self.name, version=version)

    def mirror(self) -> Slot | None:
        """The shadow slot if this request is to be mirrored, else None."""
        if self.shadow is not None and random.random() < self.shadow_fraction:
            return self.shadow
        return None
