"""Nested metrics dicts → flat MLflow keys, and back.

``{"classification": {"test": {"model": {"log_loss": 1.07}}}}`` becomes
``{"classification.test.model.log_loss": 1.07}``. Keys are joined with ``.`` in sorted order, so
the same dict always gives the same keys. Short lists are indexed (``confusion_matrix.0.2``);
long lists (arrays, feature names) are not metrics and are skipped. Booleans become 0/1; strings
and ``None`` are not metrics. NaN and ±inf are dropped (some MLflow stores reject them) and
reported in :attr:`FlatMetrics.dropped` so the caller can record why a key is missing; so are
nested nulls (strict-JSON metrics files write non-finite numbers as ``null``). Top-level nulls
are unset record fields (an ensemble's timeframe) and are not reported.

Unknown keys are flattened like known ones: a metrics schema that grows new sections needs no
change here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

SEP = "."
MAX_LIST_ITEMS = 32  # longer lists are arrays, not summary numbers
MAX_KEY_LENGTH = 250  # MLflow's limit for metric and param keys
MAX_PARAM_VALUE = 6000  # MLflow's limit for a param value
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


@dataclass(frozen=True)
class FlatMetrics:
    metrics: dict[str, float]  # finite values only, keys sorted
    dropped: dict[str, str] = field(default_factory=dict)  # key → "nan" | "inf" | "-inf" | "null"

    def dropped_note(self, limit: int = 4000) -> str:
        """One line naming the dropped keys, for a run tag; empty when nothing was dropped."""
        if not self.dropped:
            return ""
        items = [f"{k}={v}" for k, v in self.dropped.items()]
        head = (
            f"{len(items)} metric(s) not logged because their value is NaN, infinite or null "
            "(MLflow stores reject non-finite values; strict JSON writes them as null): "
        )
        text = head + ", ".join(items)
        return text if len(text) <= limit else text[: limit - 14] + " … (truncated)"


def safe_key(key: str) -> str:
    """A key MLflow accepts: unsupported characters become ``_``; at most 250 characters."""
    return _UNSAFE.sub("_", key)[:MAX_KEY_LENGTH]


def as_plain(node: Any) -> Any:
    """Pydantic models and dataclass-like objects with ``model_dump`` become plain dicts."""
    dump = getattr(node, "model_dump", None)
    return dump(mode="python") if callable(dump) else node


def flatten_metrics(node: Any, prefix: str = "") -> FlatMetrics:
    """Every number under ``node`` keyed by its dotted path (see the module docstring)."""
    metrics: dict[str, float] = {}
    dropped: dict[str, str] = {}
    for key, value in _leaves(as_plain(node), prefix):
        if isinstance(value, bool):
            metrics[key] = float(value)
        elif isinstance(value, Real):
            v = float(value)
            if math.isfinite(v):
                metrics[key] = v
            else:
                dropped[key] = "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        elif value is None and SEP in key[len(prefix) :].strip(SEP):
            dropped[key] = "null"  # a nested null: metrics.json's spelling of a non-finite number
    return FlatMetrics(dict(sorted(metrics.items())), dict(sorted(dropped.items())))


def flatten_params(node: Any, prefix: str = "") -> dict[str, str]:
    """Every scalar under ``node`` as a string param (lists of scalars joined by commas)."""
    out: dict[str, str] = {}
    for key, value in _param_leaves(as_plain(node), prefix):
        text = "" if value is None else str(value)
        out[key] = text if len(text) <= MAX_PARAM_VALUE else text[: MAX_PARAM_VALUE - 14] + " … (truncated)"
    return dict(sorted(out.items()))


def unflatten(flat: Mapping[str, float]) -> dict[str, Any]:
    """Rebuild the nested dict of :func:`flatten_metrics` (indexed lists stay dicts keyed by index).

    Where a key is both a number and a prefix of other keys, the nested entries win.
    """
    root: dict[str, Any] = {}
    for key in sorted(flat, key=lambda k: k.count(SEP), reverse=True):
        *parents, leaf = key.split(SEP)
        node = root
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(leaf), dict):
            node[leaf] = flat[key]
    return root


def _join(prefix: str, key: Any) -> str:
    return safe_key(f"{prefix}{SEP}{key}" if prefix else str(key))


def _leaves(node: Any, prefix: str):
    node = as_plain(node)
    if isinstance(node, Mapping):
        for key in sorted(node, key=str):
            yield from _leaves(node[key], _join(prefix, key))
    elif isinstance(node, list | tuple):
        if len(node) <= MAX_LIST_ITEMS:
            for i, item in enumerate(node):
                yield from _leaves(item, _join(prefix, i))
    elif prefix:
        yield prefix, node


def _param_leaves(node: Any, prefix: str):
    node = as_plain(node)
    if isinstance(node, Mapping):
        for key in sorted(node, key=str):
            yield from _param_leaves(node[key], _join(prefix, key))
    elif isinstance(node, list | tuple) and all(not isinstance(i, Mapping | list | tuple) for i in node):
        yield prefix, ",".join(str(i) for i in node)
    elif isinstance(node, list | tuple):
        for i, item in enumerate(node):
            yield from _param_leaves(item, _join(prefix, i))
    elif prefix:
        yield prefix, node
