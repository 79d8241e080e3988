"""Checks KServe objects against the ``kserve`` package's typed models; run in a venv that has it.

Reads a JSON list of objects on stdin and prints a JSON list of errors (empty when every
object is valid). Each object is built field by field into the typed models (KServe's own,
and the Kubernetes client's for the pod fields they embed), with the models' client-side
validation on, so a field the models do not know, a value of the wrong type, a missing
required field or a value outside an enum is an error naming the field's path; building
back to JSON must then give the object unchanged. The ``kserve`` package cannot share a venv
with Shipyard's test tools (its pins clash), so the tests run this in a venv of its own.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import kserve.models as kserve_models
import kubernetes.client.models as k8s_models
from kserve import ApiClient
from kserve.configuration import Configuration

# The two generators spell containers differently: list[X] and dict(str, X), or List[X] and Dict[str, X].
_LIST = re.compile(r"^[lL]ist\[(.+)\]$")
_DICT = re.compile(r"^(?:dict\(|Dict\[)([^,]+), (.+)[)\]]$")
_PRIMITIVES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
                                             "object": (object,)}
_CONFIG = Configuration()
_CONFIG.client_side_validation = True


def build(data: Any, kind: str, path: str) -> Any:
    if (match := _LIST.match(kind)) is not None:
        if not isinstance(data, list):
            raise TypeError(f"{path}: expected a list, got {type(data).__name__}")
        return [build(item, match.group(1), f"{path}[{i}]") for i, item in enumerate(data)]
    if (match := _DICT.match(kind)) is not None:
        if not isinstance(data, dict):
            raise TypeError(f"{path}: expected a mapping, got {type(data).__name__}")
        return {key: build(value, match.group(2), f"{path}.{key}") for key, value in data.items()}
    if kind in _PRIMITIVES:
        if not isinstance(data, _PRIMITIVES[kind]) or (kind != "bool" and isinstance(data, bool) and kind != "object"):
            raise TypeError(f"{path}: expected {kind}, got {data!r}")
        return data
    cls = getattr(kserve_models, kind, None) or getattr(k8s_models, kind, None)
    if cls is None:
        raise TypeError(f"{path}: no model named {kind}")
    if not isinstance(data, dict):
        raise TypeError(f"{path}: expected an object ({kind}), got {type(data).__name__}")
    by_json = {json_name: attr for attr, json_name in cls.attribute_map.items()}
    unknown = sorted(set(data) - set(by_json))
    if unknown:
        raise TypeError(f"{path}: {kind} has no field {', '.join(unknown)}")
    kwargs = {by_json[key]: build(value, cls.openapi_types[by_json[key]], f"{path}.{key}")
              for key, value in data.items()}
    if cls.__module__.startswith("kserve."):
        return cls(**kwargs, local_vars_configuration=_CONFIG)
    return cls(**kwargs)  # the Kubernetes client's models validate themselves (pydantic)


def check(obj: dict[str, Any]) -> str | None:
    name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    try:
        model = build(obj, "V1beta1InferenceService", name)
    except (TypeError, ValueError) as error:
        return str(error)
    back = ApiClient(configuration=_CONFIG).sanitize_for_serialization(model)
    return None if back == obj else f"{name}: the typed models read it differently: {json.dumps(back)[:2000]}"


def main() -> None:
    errors = [error for obj in json.load(sys.stdin) if (error := check(obj)) is not None]
    json.dump(errors, sys.stdout)


if __name__ == "__main__":
    main()
