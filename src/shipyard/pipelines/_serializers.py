"""Serializers: how a step's output becomes bytes in the artifact store and back.

A :class:`SerializerRegistry` picks the first serializer whose ``handles`` accepts
a value: those you register (newest first), then the defaults, in this order:

========== ============================================= ===========
name       values                                        format
========== ============================================= ===========
dataset    dataset versions and handles (by reference)   JSON ``{"name", "version", "digest"}``
parquet    pandas DataFrames                             Parquet (pyarrow)
npy        numpy arrays (not of dtype object)            ``.npy``
json       None, bool, int, float, str, lists, str-keyed dicts of those
container  tuples, and lists/dicts of anything above     a JSON header + each part
model      models a Shipyard flavor saves                the model package as a tar
========== ============================================= ===========

A serializer whose bytes hold volatile metadata may also define
``content_digest(data) -> str | None``: a digest of what the value is, which cache
keys use instead of the bytes' digest (the model package leaves out its creation
time, so an identical model trained again still hits the cache downstream).

A value none of them handles raises :class:`~shipyard.pipelines._errors.NoSerializer`
naming its type and how to register one. ``PickleSerializer`` exists but is never a
default: register it explicitly if you accept pickles.

Each registry is its own object with its own defaults (no global registry), and is
pickled along with each task to the worker that runs it.

>>> reg = SerializerRegistry()
>>> name, data = reg.dumps({"auc": 0.91})
>>> name, reg.loads(name, data)
('json', {'auc': 0.91})
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from shipyard.errors import NotFound
from shipyard.pipelines._errors import NoSerializer

__all__ = [
    "ContainerSerializer",
    "DatasetSerializer",
    "JsonSerializer",
    "ModelSerializer",
    "NumpySerializer",
    "ParquetSerializer",
    "PickleSerializer",
    "Serializer",
    "SerializerRegistry",
]

_JSON_MAX_DEPTH = 64
_MANIFEST = "model.yaml"
_VOLATILE = "created_at"  # the manifest field that differs between two saves of the same model


@runtime_checkable
class Serializer(Protocol):
    """Turns values of some types into bytes and back. ``name`` is stored with each output."""

    name: str
    extension: str

    def handles(self, value: Any) -> bool: ...

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class JsonSerializer:
    """JSON-able values: None, bool, int, float, str, and lists / str-keyed dicts of those."""

    name, extension = "json", "json"

    def handles(self, value: Any) -> bool:
        return _jsonable(value, 0)

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), default=_numpy_scalar).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


def _numpy_scalar(value: Any) -> Any:
    return value.item()


def _jsonable(value: Any, depth: int) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if depth > _JSON_MAX_DEPTH:
        return False
    if type(value) is list:
        return all(_jsonable(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(isinstance(k, str) and _jsonable(v, depth + 1) for k, v in value.items())
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.generic) and value.dtype.kind in "biuf"


class ParquetSerializer:
    """pandas DataFrames as Parquet (index and dtypes kept by pyarrow's pandas metadata)."""

    name, extension = "parquet", "parquet"

    def handles(self, value: Any) -> bool:
        pandas = sys.modules.get("pandas")
        return pandas is not None and isinstance(value, pandas.DataFrame)

    def dumps(self, value: Any) -> bytes:
        buf = io.BytesIO()
        value.to_parquet(buf, engine="pyarrow")
        return buf.getvalue()

    def loads(self, data: bytes) -> Any:
        import pandas as pd

        return pd.read_parquet(io.BytesIO(data), engine="pyarrow")


class NumpySerializer:
    """numpy arrays as ``.npy`` (never pickled: object arrays are refused)."""

    name, extension = "npy", "npy"

    def handles(self, value: Any) -> bool:
        numpy = sys.modules.get("numpy")
        return numpy is not None and isinstance(value, numpy.ndarray) and value.dtype != object

    def dumps(self, value: Any) -> bytes:
        import numpy as np

        buf = io.BytesIO()
        np.save(buf, value, allow_pickle=False)
        return buf.getvalue()

    def loads(self, data: bytes) -> Any:
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)


class ContainerSerializer:
    """Tuples (always), and lists or str-keyed dicts holding values other serializers take.

    Format: 4-byte header length, a JSON header ``{"kind", "keys", "parts": [[name, size]…]}``,
    then each part's bytes. Each part uses the registry's own choice of serializer.
    """

    name, extension = "container", "bin"

    def __init__(self, registry: SerializerRegistry) -> None:
        self._registry = registry

    def handles(self, value: Any) -> bool:
        if type(value) is tuple:
            items: Iterable[Any] = value
        elif type(value) is list:
            items = value
        elif type(value) is dict and all(isinstance(k, str) for k in value):
            items = value.values()
        else:
            return False
        return all(self._registry.find(v) is not None for v in items)

    def dumps(self, value: Any) -> bytes:
        kind = type(value).__name__
        items = list(value.values()) if kind == "dict" else list(value)
        encoded = [self._registry.dumps(v) for v in items]
        header = json.dumps({"kind": kind, "keys": list(value) if kind == "dict" else None,
                             "parts": [[name, len(data)] for name, data in encoded]}).encode()
        return b"".join([struct.pack(">I", len(header)), header, *(data for _, data in encoded)])

    def loads(self, data: bytes) -> Any:
        header, parts = self._split(data)
        values = [self._registry.loads(name, part) for (name, _), part in zip(header["parts"], parts, strict=True)]
        if header["kind"] == "dict":
            return dict(zip(header["keys"], values, strict=True))
        return tuple(values) if header["kind"] == "tuple" else values

    def content_digest(self, data: bytes) -> str | None:
        """The parts' content digests under the header, when a part has one (a model); else None."""
        header, parts = self._split(data)
        contents = [self._registry.content_digest(name, part) for (name, _), part in zip(header["parts"], parts,
                                                                                          strict=True)]
        if not any(contents):
            return None
        digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
        for content, part in zip(contents, parts, strict=True):
            digest.update((content or hashlib.sha256(part).hexdigest()).encode())
        return digest.hexdigest()

    @staticmethod
    def _split(data: bytes) -> tuple[dict[str, Any], list[bytes]]:
        (size,) = struct.unpack(">I", data[:4])
        header = json.loads(data[4:4 + size])
        offset, parts = 4 + size, []
        for _, length in header["parts"]:
            parts.append(data[offset:offset + length])
            offset += length
        return header, parts


class ModelSerializer:
    """Models any Shipyard flavor saves, as the model package (a deterministic tar).

    Loading verifies every file of the package and returns the native model object.
    """

    name, extension = "model", "tar"

    def handles(self, value: Any) -> bool:
        if isinstance(value, str | bytes | int | float | bool | list | dict | tuple) or value is None:
            return False
        from shipyard.errors import InvalidInput
        from shipyard.models import flavor_for_model

        try:
            flavor_for_model(value)
        except InvalidInput:
            return False
        return True

    def dumps(self, value: Any) -> bytes:
        from shipyard.models import save_model

        with tempfile.TemporaryDirectory(prefix="shipyard-model-") as tmp:
            package = Path(tmp) / "model"
            save_model(value, package)
            return tar_folder(package)

    def loads(self, data: bytes) -> Any:
        from shipyard.models import load_model

        with tempfile.TemporaryDirectory(prefix="shipyard-model-") as tmp:
            untar(data, Path(tmp))
            # A fresh folder of bytes the content-addressed store checked against their digest.
            return load_model(Path(tmp), trust=True).unwrap()

    def content_digest(self, data: bytes) -> str:
        """sha256 of the package's files, ``model.yaml`` without its ``created_at``.

        Saving the same model twice gives the same files but a new creation time, so
        the tar's own digest differs; this one does not. Users still see the time.
        """
        import yaml

        digest = hashlib.sha256()
        for name, content in tar_members(data):
            if name == _MANIFEST:
                manifest = yaml.safe_load(content) or {}
                if isinstance(manifest, dict):
                    manifest.pop(_VOLATILE, None)
                content = json.dumps(manifest, sort_keys=True, default=str).encode()
            digest.update(f"{name}\0{len(content)}\0".encode())
            digest.update(content)
        return digest.hexdigest()


def tar_folder(folder: Path) -> bytes:
    """The files under ``folder`` as an uncompressed tar with fixed metadata (same files, same bytes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(path.relative_to(folder).as_posix())
            info.size, info.mtime, info.mode = path.stat().st_size, 0, 0o644
            with path.open("rb") as f:
                tar.addfile(info, f)
    return buf.getvalue()


def tar_members(data: bytes) -> list[tuple[str, bytes]]:
    """The regular files of a tar made by :func:`tar_folder`, as (relative path, bytes), in memory."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        for member in tar:
            if member.isfile():
                handle = tar.extractfile(member)
                if handle is not None:
                    out.append((member.name, handle.read()))
    return out


def untar(data: bytes, dest: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(dest, filter="data")


class DatasetSerializer:
    """Registered dataset versions and handles, stored by reference (name, version, digest).

    Loading gives a handle when ``open_client`` (a picklable factory of a client with
    ``get_dataset``) is set, else the :class:`~shipyard.datasets.DatasetVersion` reference.
    Active only when the ``shipyard.datasets`` package is present.
    """

    name, extension = "dataset", "json"

    def __init__(self, open_client: Callable[[], Any] | None = None) -> None:
        self.open_client = open_client
        self._client: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"open_client": self.open_client, "_client": None}  # a client never crosses processes

    def handles(self, value: Any) -> bool:
        module = type(value).__module__
        return module.startswith("shipyard.datasets.") and type(value).__name__ in ("DatasetHandle", "DatasetVersion")

    def dumps(self, value: Any) -> bytes:
        version = value.version if type(value).__name__ == "DatasetHandle" else value
        return json.dumps({"name": version.name, "version": version.version, "digest": version.digest},
                          sort_keys=True).encode()

    def loads(self, data: bytes) -> Any:
        ref = json.loads(data)
        if self.open_client is not None:
            if self._client is None:
                self._client = self.open_client()
            return self._client.get_dataset(f"{ref['name']}@{ref['version']}")
        from shipyard.datasets import DatasetVersion

        return DatasetVersion(name=ref["name"], version=ref["version"], digest=ref["digest"], format="unknown",
                              num_files=0, num_bytes=0)


class PickleSerializer:
    """Anything picklable. Never a default: register it to opt in (pickles run code when loaded)."""

    name, extension = "pickle", "pkl"

    def handles(self, value: Any) -> bool:
        return True

    def dumps(self, value: Any) -> bytes:
        import pickle

        return pickle.dumps(value, protocol=5)

    def loads(self, data: bytes) -> Any:
        import pickle

        return pickle.loads(data)  # noqa: S301 - opted into by registering this serializer


def _datasets_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("shipyard.datasets") is not None
    except (ImportError, ValueError):
        return False


class SerializerRegistry:
    """An ordered set of serializers: those registered (newest first), then the defaults.

    ``defaults=False`` starts empty. ``open_client`` is handed to the dataset
    serializer so loaded dataset references become readable handles.
    """

    def __init__(self, serializers: Iterable[Serializer] = (), *, defaults: bool = True,
                 open_client: Callable[[], Any] | None = None) -> None:
        self._custom: list[Serializer] = []
        self._defaults: list[Serializer] = []
        self._with_defaults = defaults
        self.open_client = open_client
        if defaults:
            if _datasets_available():
                self._defaults.append(DatasetSerializer(open_client))
            self._defaults += [ParquetSerializer(), NumpySerializer(), JsonSerializer(),
                               ContainerSerializer(self), ModelSerializer()]
        for serializer in serializers:
            self.register(serializer)

    def __repr__(self) -> str:
        return f"SerializerRegistry({[s.name for s in self.serializers]})"

    @property
    def serializers(self) -> list[Serializer]:
        return [*reversed(self._custom), *self._defaults]

    def register(self, serializer: Serializer) -> None:
        """Add ``serializer``; it is tried before every serializer already present."""
        if not isinstance(serializer, Serializer):
            raise NoSerializer(f"{serializer!r} is not a Serializer (needs name, extension, handles, dumps, loads)",
                               field="serializer", type_name=type(serializer).__name__)
        self._custom = [s for s in self._custom if s.name != serializer.name] + [serializer]

    def bound(self, open_client: Callable[[], Any]) -> SerializerRegistry:
        """A copy whose dataset serializer opens handles with ``open_client`` (self if already set)."""
        if self.open_client is not None or not any(isinstance(s, DatasetSerializer) for s in self._defaults):
            return self
        return SerializerRegistry(self._custom, defaults=self._with_defaults, open_client=open_client)

    def find(self, value: Any) -> Serializer | None:
        return next((s for s in self.serializers if s.handles(value)), None)

    def for_value(self, value: Any) -> Serializer:
        found = self.find(value)
        if found is None:
            kind = f"{type(value).__module__}.{type(value).__qualname__}"
            raise NoSerializer(
                f"no serializer for a value of type {kind}; register one with "
                "pipeline.serializers.register(MySerializer()) (an object with name, extension, "
                "handles, dumps and loads), or return a supported type", field="output", type_name=kind)
        return found

    def get(self, name: str) -> Serializer:
        found = next((s for s in self.serializers if s.name == name), None)
        if found is None:
            raise NotFound(f"no serializer named {name!r} is registered (known: "
                           f"{[s.name for s in self.serializers]})", resource="serializer", name=name)
        return found

    def dumps(self, value: Any) -> tuple[str, bytes]:
        serializer = self.for_value(value)
        return serializer.name, serializer.dumps(value)

    def content_digest(self, name: str, data: bytes) -> str | None:
        """The content digest serializer ``name`` gives ``data`` (see the module docstring), or None
        when the bytes' own digest identifies the value."""
        method = getattr(self.get(name), "content_digest", None)
        return method(data) if method is not None else None

    def loads(self, name: str, data: bytes) -> Any:
        return self.get(name).loads(data)
