"""Mergeable summaries of one column: distinct counts, quantiles and a fixed-edge histogram.

Each sketch is a small value object built from a numpy array in a few vectorised
passes, merged with another of its kind, and serialised to JSON. Merging is what
lets monitoring combine live windows and compare them with a stored profile.

* :class:`HyperLogLog` — 4,096 one-byte registers (p = 12, about 1.6 % standard
  error) over a 32-bit hash; merge takes the register-wise maximum, so it is exact:
  the merged sketch equals the sketch of the combined data.
* :class:`QuantileSketch` — the 257 quantiles at ranks 0, 1/256 … 1 (0 and 1 are the
  exact minimum and maximum), computed from all values when there are at most
  65,536, else from a deterministic uniform sample of 65,536 (rank error about
  0.4 % at 99 % confidence). Merging mixes the two piecewise-linear CDFs weighted
  by count and reads 257 quantiles back, adding at most 1/512 of rank error.
* :class:`Histogram` — counts in fixed bins with stored edges, plus values below
  the first and above the last edge. Merging histograms with the same edges adds
  counts exactly; otherwise counts are spread uniformly over the other edges.

>>> import numpy as np
>>> values = np.arange(1000, dtype=np.float64)
>>> HyperLogLog.of(values).merge(HyperLogLog.of(values)).estimate()
1006
>>> QuantileSketch.of(values).quantile(0.5)
499.5
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["HyperLogLog", "Histogram", "QuantileSketch", "hash_utf8", "hash_values", "round_keeping_total",
           "top_depth"]

_P = 12
_M = 1 << _P
_POINTS = 257
_SAMPLE = 1 << 16
_MIX1 = np.uint32(0x85EBCA6B)
_MIX2 = np.uint32(0xC2B2AE35)
_GOLDEN = np.uint32(0x9E3779B1)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser, in place on a uint32 array (one scratch buffer)."""
    scratch = np.empty_like(h)
    np.right_shift(h, np.uint32(16), out=scratch)
    h ^= scratch
    h *= _MIX1
    np.right_shift(h, np.uint32(13), out=scratch)
    h ^= scratch
    h *= _MIX2
    np.right_shift(h, np.uint32(16), out=scratch)
    h ^= scratch
    return h


def hash_values(values: np.ndarray) -> np.ndarray:
    """A 32-bit hash of each element of a numeric numpy array (or of ``str`` objects).

    Numbers hash by their 64-bit pattern (ints as int64, floats as float64, with
    -0.0 folded into 0.0); strings by their UTF-8 bytes. The same value always
    gets the same hash, across processes and machines.
    """
    if values.dtype.kind in "OUS":
        return _hash_strings(values)
    if values.dtype.kind == "f":
        wide = values.astype(np.float64, copy=False) + 0.0  # a copy in which -0.0 became 0.0
    elif values.dtype.kind == "b":
        wide = values.astype(np.int64)
    else:
        wide = np.ascontiguousarray(values.astype(np.int64, copy=False))
    halves = wide.view(np.uint32).reshape(-1, 2)
    h = np.multiply(halves[:, 0], _GOLDEN)
    h ^= halves[:, 1]
    return _fmix32(h)


def _hash_strings(values: np.ndarray) -> np.ndarray:
    encoded = [str(v).encode() for v in values]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    return hash_utf8(offsets, np.frombuffer(b"".join(encoded), dtype=np.uint8))


def hash_utf8(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Hash strings given as Arrow lays them out: ``offsets`` (n + 1) into a byte buffer.

    A polynomial hash of each string's bytes, vectorised over the whole buffer (no
    Python loop per string), then mixed with the string's length.
    """
    offsets = offsets.astype(np.int64, copy=False)
    starts, lengths = offsets[:-1], np.diff(offsets)
    h = lengths.astype(np.uint32) * _GOLDEN
    nonempty = lengths > 0
    if nonempty.any():
        first, last = int(starts[nonempty][0]), int(offsets[-1])
        used = data[first:last].astype(np.uint32)
        relative = starts - first
        # Position of each byte within its string: a running count reset at each start.
        position = np.ones(used.size, dtype=np.int32)
        position[0] = 0
        later = relative[nonempty][1:]
        position[later] = 1 - lengths[nonempty][:-1]
        np.cumsum(position, out=position)
        powers = np.cumprod(np.full(int(lengths.max()), 31, dtype=np.uint32), dtype=np.uint32)
        contrib = (used + np.uint32(1)) * powers[position]
        h[nonempty] ^= np.add.reduceat(contrib, relative[nonempty], dtype=np.uint32)
    return _fmix32(h)


def round_keeping_total(values: np.ndarray) -> np.ndarray:
    """Round to integers whose sum is the rounded sum (largest remainders round up)."""
    floors = np.floor(values)
    missing = int(round(float(values.sum()) - float(floors.sum())))
    if missing > 0:
        floors[np.argsort(floors - values)[:missing]] += 1
    return floors.astype(np.int64)


def top_depth(*tops: tuple[Sequence[Any], bool]) -> int | None:
    """How deep to cut top-category lists, given as ``(list, complete)``, before comparing them.

    A list that is not complete pooled its rarer categories and knows nothing of them,
    so a category another list keeps beyond that depth could not be matched: every
    list is cut to the shortest incomplete one's length (None, no cut, when all are
    complete). Lists ordered the same way (by count, then value) of the same data
    then hold the same categories, whatever top-k each was built with.
    """
    depths = [len(values) for values, complete in tops if not complete]
    return min(depths) if depths else None


@dataclass(frozen=True)
class HyperLogLog:
    """A HyperLogLog sketch of the distinct values of a column (p = 12)."""

    registers: bytes = field(repr=False)

    @classmethod
    def empty(cls) -> HyperLogLog:
        return cls(bytes(_M))

    @classmethod
    def of(cls, values: np.ndarray) -> HyperLogLog:
        """The sketch of ``values`` (numbers or strings; nulls must be removed first)."""
        if values.size == 0:
            return cls.empty()
        return cls.of_hashes(hash_values(values))

    @classmethod
    def of_hashes(cls, h: np.ndarray) -> HyperLogLog:
        """The sketch of 32-bit hashes (the array is overwritten)."""
        key = h >> np.uint32(32 - _P)  # the register
        np.left_shift(h, np.uint32(_P), out=h)
        h |= np.uint32(1 << (_P - 1))
        # rank = leading zeros + 1 = 32 - floor(log2(h)), read from the float32 exponent.
        exponent = h.astype(np.float32).view(np.uint32)
        exponent >>= np.uint32(23)
        key *= np.uint32(32)
        key += np.uint32(127 + 32)
        key -= exponent
        flat = np.zeros(_M * 32, dtype=bool)
        flat[key] = True
        seen = flat.reshape(_M, 32)
        registers = (31 - np.argmax(seen[:, ::-1], axis=1)).astype(np.uint8)
        registers[~seen.any(axis=1)] = 0
        return cls(registers.tobytes())

    def merge(self, other: HyperLogLog) -> HyperLogLog:
        mine = np.frombuffer(self.registers, dtype=np.uint8)
        theirs = np.frombuffer(other.registers, dtype=np.uint8)
        return HyperLogLog(np.maximum(mine, theirs).tobytes())

    def estimate(self) -> int:
        """The estimated number of distinct values (linear counting when small)."""
        registers = np.frombuffer(self.registers, dtype=np.uint8).astype(np.float64)
        raw = 0.7213 / (1 + 1.079 / _M) * _M * _M / float(np.sum(np.exp2(-registers)))
        zeros = int(np.count_nonzero(registers == 0))
        if raw <= 2.5 * _M and zeros:
            return round(_M * math.log(_M / zeros))
        return round(raw)

    def to_json(self) -> str:
        return base64.b64encode(self.registers).decode()

    @classmethod
    def from_json(cls, data: str) -> HyperLogLog:
        registers = base64.b64decode(data)
        if len(registers) != _M:
            raise ValueError(f"a HyperLogLog has {_M} registers, got {len(registers)}")
        return cls(registers)


@dataclass(frozen=True)
class QuantileSketch:
    """``n`` values summarised by their quantiles at evenly spaced ranks."""

    n: int
    points: tuple[float, ...] = field(repr=False)

    @classmethod
    def of(cls, values: np.ndarray, seed: int = 0) -> QuantileSketch:
        """The sketch of finite float ``values`` (exact up to 65,536 values, else sampled)."""
        n = int(values.size)
        if n == 0:
            return cls(0, ())
        if n > _SAMPLE:
            picked = values[np.random.default_rng(seed).integers(0, n, _SAMPLE)]
            return cls.of_sample(picked, n, float(values.min()), float(values.max()))
        return cls(n, tuple(float(p) for p in np.quantile(values, np.linspace(0, 1, _POINTS))))

    @classmethod
    def of_sample(cls, sample: np.ndarray, n: int, low: float, high: float) -> QuantileSketch:
        """The sketch of ``n`` values given a uniform ``sample`` of them and their exact extremes."""
        if n == 0 or sample.size == 0:
            return cls(n, ())
        points = np.quantile(np.sort(sample), np.linspace(0, 1, _POINTS))
        points[0], points[-1] = low, high
        return cls(n, tuple(float(p) for p in points))

    @staticmethod
    def sample_size(block: int, total: int) -> int | None:
        """How many values to draw from a block of ``block`` out of ``total`` (None: keep all)."""
        return None if total <= _SAMPLE else max(1, round(_SAMPLE * block / total))

    def quantile(self, q: float) -> float:
        """The value at rank ``q`` in [0, 1] (NaN for an empty sketch)."""
        if not self.points:
            return math.nan
        return float(np.interp(q, np.linspace(0, 1, len(self.points)), self.points))

    def cdf(self, x: np.ndarray | float, *, side: Literal["left", "right"] = "right") -> np.ndarray:
        """The fraction of values ≤ ``x`` (``side="right"``) or < ``x`` (``side="left"``).

        The sketch reads as ``n / (len(points) - 1)`` values spread evenly between each
        pair of neighbouring points, all at one value where neighbouring points are
        equal: a run of equal points (ties, as in a 0/1 column) is an atom at which the
        CDF jumps, so ``cdf(v) - cdf(v, side="left")`` is its share. ``side="left"``
        gives the shares of bins closed on the left, as :class:`Histogram` counts them.
        """
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        x = np.asarray(x, dtype=np.float64)
        if not self.points:
            return np.zeros_like(x)
        points = np.asarray(self.points, dtype=np.float64)
        last = points.size - 1
        # How many points lie ≤ x (right) or < x (left); between the last of those and
        # the next point the CDF is linear, which also makes it jump across a run of ties.
        above = np.searchsorted(points, x, side=side)
        lo, hi = np.clip(above - 1, 0, last), np.clip(above, 0, last)
        width = points[hi] - points[lo]
        step = np.divide(x - points[lo], width, out=np.zeros_like(x), where=width > 0)
        rank = (lo + step) / max(last, 1)
        return np.asarray(np.where(above == 0, 0.0, np.where(above > last, 1.0, rank)))

    def ks(self, other: QuantileSketch) -> float:
        """The Kolmogorov-Smirnov distance, sup |F - G|, between two sketches' CDFs.

        Both CDFs are linear between their points, so the supremum is reached at a
        point of either sketch, on it or just below it (where an atom begins).
        """
        if not self.points or not other.points:
            return math.nan
        grid = np.union1d(self.points, other.points)
        return float(max(np.max(np.abs(self.cdf(grid, side=s) - other.cdf(grid, side=s))) for s in ("left", "right")))

    def wasserstein(self, other: QuantileSketch) -> float:
        """The first Wasserstein distance between two sketches: the area between their
        quantile functions (piecewise linear through the points), integrated exactly."""
        if not self.points or not other.points:
            return math.nan
        mine, theirs = np.asarray(self.points), np.asarray(other.points)
        ranks = np.union1d(np.linspace(0, 1, mine.size), np.linspace(0, 1, theirs.size))
        gap = np.interp(ranks, np.linspace(0, 1, mine.size), mine) - \
            np.interp(ranks, np.linspace(0, 1, theirs.size), theirs)
        a, b, width = np.abs(gap[:-1]), np.abs(gap[1:]), np.diff(ranks)
        # |linear| over each interval: a trapezoid, or two triangles where the sign changes.
        crossing = gap[:-1] * gap[1:] < 0
        total = np.where(a + b > 0, a + b, 1.0)
        area = np.where(crossing, (a * a + b * b) / (2 * total), (a + b) / 2) * width
        return float(area.sum())

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        if not other.n:
            return self
        if not self.n:
            return other
        grid = np.union1d(self.points, other.points)
        # The mixture just below and at each point, so that atoms (ties) stay atoms.
        below = (self.n * self.cdf(grid, side="left") + other.n * other.cdf(grid, side="left")) / (self.n + other.n)
        at = (self.n * self.cdf(grid) + other.n * other.cdf(grid)) / (self.n + other.n)
        mixed = np.maximum.accumulate(np.column_stack((below, at)).ravel())
        ranks = np.linspace(0, 1, _POINTS)
        points = np.interp(ranks, mixed, np.repeat(grid, 2))
        points[0], points[-1] = grid[0], grid[-1]
        return QuantileSketch(self.n + other.n, tuple(float(p) for p in points))

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "points": list(self.points)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuantileSketch:
        return cls(int(data["n"]), tuple(float(p) for p in data["points"]))


@dataclass(frozen=True)
class Histogram:
    """Counts of values in the bins between ``edges``; ``below``/``above`` fall outside."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    below: int = 0
    above: int = 0

    @classmethod
    def of(cls, values: np.ndarray, edges: np.ndarray | tuple[float, ...] | None = None, bins: int = 20,
           *, finite: bool = False, contained: bool = False) -> Histogram:
        """Bin float ``values``; without ``edges``, ``bins`` equal bins span the finite range.

        ``finite=True`` promises there is no NaN or infinity, and ``contained=True``
        that every value lies within ``edges``: each saves passes over the data.
        """
        if not finite:
            values = values[np.isfinite(values)]
        if edges is None:
            if values.size == 0:
                return cls((), ())
            lo, hi = float(values.min()), float(values.max())
            edges = np.linspace(lo, hi, bins + 1) if hi > lo else np.array([lo, hi])
            below = above = 0
            inside = values
        else:
            edges = np.asarray(edges, dtype=np.float64)
            if edges.size < 2:
                return cls(tuple(float(e) for e in edges), ())
            below = 0 if contained else int(np.count_nonzero(values < edges[0]))
            above = 0 if contained else int(np.count_nonzero(values > edges[-1]))
            inside = values[(values >= edges[0]) & (values <= edges[-1])] if below or above else values
        lo, hi, nbins = float(edges[0]), float(edges[-1]), edges.size - 1
        if hi > lo and np.allclose(np.diff(edges), (hi - lo) / nbins):
            scaled = inside - lo
            scaled *= nbins / (hi - lo)
            index = scaled.astype(np.int32)
            np.minimum(index, nbins - 1, out=index)
            counts = np.bincount(index, minlength=nbins)
        elif hi > lo:
            counts, _ = np.histogram(inside, bins=edges)
        else:
            counts = np.array([inside.size])
        return cls(tuple(float(e) for e in edges), tuple(int(c) for c in counts), below, above)

    @staticmethod
    def equal_edges(low: float, high: float, bins: int = 20) -> tuple[float, ...]:
        """The edges :meth:`of` picks for finite values spanning ``[low, high]``."""
        edges = np.linspace(low, high, bins + 1) if high > low else np.array([low, high])
        return tuple(float(e) for e in edges)

    @property
    def total(self) -> int:
        return sum(self.counts) + self.below + self.above

    def rebin(self, edges: tuple[float, ...]) -> Histogram:
        """These counts spread onto other ``edges``, assuming values uniform within a bin."""
        if tuple(edges) == self.edges:
            return self
        new = np.zeros(max(len(edges) - 1, 0))
        below, above = float(self.below), float(self.above)
        lo, hi = (edges[0], edges[-1]) if edges else (math.inf, -math.inf)
        for a, b, count in zip(self.edges, self.edges[1:], self.counts, strict=False):
            if not count:
                continue
            width = b - a
            if width <= 0:  # a single-value bin
                if a < lo:
                    below += count
                elif a > hi:
                    above += count
                else:
                    new[min(int(np.searchsorted(edges, a, side="right")) - 1, len(new) - 1)] += count
                continue
            below += count * max(0.0, min(b, lo) - a) / width
            above += count * max(0.0, b - max(a, hi)) / width
            for i, (c, d) in enumerate(zip(edges, edges[1:], strict=False)):
                overlap = min(b, d) - max(a, c)
                if overlap > 0:
                    new[i] += count * overlap / width
        counts = round_keeping_total(np.concatenate(([below], new, [above])))
        return Histogram(tuple(edges), tuple(int(c) for c in counts[1:-1]), int(counts[0]), int(counts[-1]))

    def merge(self, other: Histogram) -> Histogram:
        """Exact when the edges match; otherwise both are spread onto edges spanning both."""
        if not other.edges:
            return self
        if not self.edges:
            return other
        if other.edges != self.edges:
            lo, hi = min(self.edges[0], other.edges[0]), max(self.edges[-1], other.edges[-1])
            nbins = max(len(self.edges), len(other.edges)) - 1
            edges = tuple(float(e) for e in np.linspace(lo, hi, nbins + 1)) if hi > lo else (lo, hi)
            return self.rebin(edges).merge(other.rebin(edges))
        counts = tuple(a + b for a, b in zip(self.counts, other.counts, strict=True))
        return Histogram(self.edges, counts, self.below + other.below, self.above + other.above)

    def to_json(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "counts": list(self.counts), "below": self.below, "above": self.above}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Histogram:
        return cls(tuple(float(e) for e in data["edges"]), tuple(int(c) for c in data["counts"]),
                   int(data.get("below", 0)), int(data.get("above", 0)))
