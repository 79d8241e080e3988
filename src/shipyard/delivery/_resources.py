"""CPU and memory for a pod: Kubernetes quantities, size profiles, requests under limits.

>>> resources_for("small", memory_limit="2Gi").memory_limit
'2Gi'
>>> parse_quantity("500m", "cpu")
Decimal('0.500')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from shipyard.errors import InvalidInput

__all__ = ["PROFILES", "Resources", "parse_quantity", "resources_for"]

_QUANTITY = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?")
_SCALE = {
    None: Decimal(1), "m": Decimal("0.001"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
_OPTION = {"cpu": "--cpu", "memory": "--memory", "cpu_limit": "--cpu-limit", "memory_limit": "--memory-limit"}


def parse_quantity(text: str, field: str) -> Decimal:
    """The value of a Kubernetes quantity (``500m``, ``1.5``, ``512Mi``, ``2G``); ``InvalidInput``
    naming ``field`` for anything else, for zero, and for a memory size in millibytes."""
    match = _QUANTITY.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        example = "512Mi or 2Gi" if "memory" in field else "500m or 2"
        raise InvalidInput(f"{_OPTION.get(field, field)} must be a Kubernetes quantity such as {example}, "
                           f"got {text!r}", field=field)
    if "memory" in field and match["suffix"] == "m":
        raise InvalidInput(f"{_OPTION.get(field, field)} {text} means {text[:-1]} thousandths of a byte; "
                           f"write mebibytes as {text[:-1]}Mi", field=field)
    value = Decimal(match["number"]) * _SCALE[match["suffix"]]
    if value <= 0:
        raise InvalidInput(f"{_OPTION.get(field, field)} must be more than 0, got {text!r}", field=field)
    return value


@dataclass(frozen=True)
class Resources:
    """What one server pod asks for (requests) and may use at most (limits), and how many
    worker processes it runs.

    Quantities are Kubernetes strings, kept as written. Raises ``InvalidInput`` naming the
    option when a quantity is malformed or a limit is below its request.
    """

    cpu: str
    memory: str
    cpu_limit: str
    memory_limit: str
    workers: int = 1

    def __post_init__(self) -> None:
        for request, limit in (("cpu", "cpu_limit"), ("memory", "memory_limit")):
            asked = parse_quantity(getattr(self, request), request)
            allowed = parse_quantity(getattr(self, limit), limit)
            if allowed < asked:
                raise InvalidInput(
                    f"the {request} limit {getattr(self, limit)} is below the {request} request "
                    f"{getattr(self, request)}: a pod may never use less than it asks for. Raise "
                    f"{_OPTION[limit]} or lower {_OPTION[request]} (or pick a larger --profile)", field=limit)
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise InvalidInput(f"--workers must be an integer of at least 1, got {self.workers!r}", field="workers")

    def requirements(self) -> dict[str, dict[str, str]]:
        """The container's ``resources`` field."""
        return {"limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
                "requests": {"cpu": self.cpu, "memory": self.memory}}


# One worker per requested core: a worker is one Python process, busy on one core.
PROFILES = MappingProxyType({
    "small": Resources(cpu="500m", memory="512Mi", cpu_limit="1", memory_limit="1Gi", workers=1),
    "medium": Resources(cpu="1", memory="2Gi", cpu_limit="2", memory_limit="4Gi", workers=1),
    "large": Resources(cpu="2", memory="4Gi", cpu_limit="4", memory_limit="8Gi", workers=2),
})


def resources_for(profile: str = "small", *, cpu: str | None = None, memory: str | None = None,
                  cpu_limit: str | None = None, memory_limit: str | None = None,
                  workers: int | None = None) -> Resources:
    """The resources of ``profile`` (``small``, ``medium``, ``large``), each value replaced by
    the one given."""
    if profile not in PROFILES:
        raise InvalidInput(f"--profile must be one of {', '.join(PROFILES)}, got {profile!r}", field="profile")
    base = PROFILES[profile]
    return Resources(cpu=cpu or base.cpu, memory=memory or base.memory, cpu_limit=cpu_limit or base.cpu_limit,
                     memory_limit=memory_limit or base.memory_limit,
                     workers=base.workers if workers is None else workers)
