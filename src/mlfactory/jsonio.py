"""Strict JSON in and out: one dumper for ``--json`` output and every ``metrics.json``.

JSON has no NaN or Infinity. Python's ``json`` writes them as bare ``NaN``/``Infinity`` tokens that
other readers refuse, so :func:`strict` replaces each non-finite float by ``null`` and, for a value
under a mapping key, adds ``<key>_reason`` beside it (``"sharpe": null, "sharpe_reason": "no
trades"``). A caller that knows why a value is missing passes ``reasons``; otherwise the reason
says what the value was (``"not a number"``, ``"infinite"``).

Reading goes through :func:`read_json` / :func:`read_parquet`, which turn a missing, truncated or
corrupt artifact into an ``ArtifactError`` naming the file and the command that rebuilds it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from mlfactory.errors import ArtifactError

REASON_SUFFIX = "_reason"
Reasons = Mapping[str, str] | Callable[[str, float], str | None] | None

# Why a metric is infinite: each is a ratio whose denominator was 0 (evaluation.trading_metrics).
METRIC_INFINITE_REASONS = {
    "sharpe": "returns have zero variance",
    "sortino": "no losing bar (downside deviation 0)",
    "calmar": "no drawdown",
    "profit_factor": "no losing trade (gross loss 0)",
}


def metric_reason(key: str, value: float) -> str | None:
    """The reason a ``metrics.json`` value is not finite (``None``: the generic one)."""
    if math.isinf(value) and key in METRIC_INFINITE_REASONS:
        return f"{_why(value)}: {METRIC_INFINITE_REASONS[key]}"
    return None


def _why(value: float) -> str:
    return "not a number" if math.isnan(value) else "infinite"


def _scalar(value: Any) -> Any:
    """numpy scalars, enums, paths and dates as plain JSON values (floats may stay non-finite)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Enum):
        return _scalar(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalar / 0-d array
    if callable(item) and getattr(value, "ndim", 0) == 0:
        return item()
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return tolist()
    model_dump = getattr(value, "model_dump", None)  # pydantic models
    if callable(model_dump):
        return model_dump(mode="python")
    return str(value)


def _reason(reasons: Reasons, key: str, value: float) -> str:
    if callable(reasons):
        return reasons(key, value) or _why(value)
    return (reasons or {}).get(key) or _why(value)


def strict(obj: Any, reasons: Reasons = None) -> Any:
    """A copy of ``obj`` that strict JSON can hold: non-finite floats → ``None`` plus ``<key>_reason``."""
    if not isinstance(obj, Mapping | list | tuple | set | frozenset):
        obj = _scalar(obj)
        return strict(obj, reasons) if isinstance(obj, dict | list) else obj
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            key = str(_scalar(k))
            v = strict(v, reasons)
            if isinstance(v, float) and not math.isfinite(v):
                out[key] = None
                if key + REASON_SUFFIX not in obj:
                    out[key + REASON_SUFFIX] = _reason(reasons, key, v)
            else:
                out[key] = v
        return out
    if isinstance(obj, list | tuple | set | frozenset):
        items = sorted(obj, key=str) if isinstance(obj, set | frozenset) else obj
        return [None if isinstance(x, float) and not math.isfinite(x) else x for x in map(strict, items)]
    return obj


def dumps(obj: Any, reasons: Reasons = None, indent: int | None = 2) -> str:
    """Strict JSON text (``allow_nan=False`` proves it): sorted keys, non-finite values as null + reason."""
    return json.dumps(strict(obj, reasons), indent=indent, sort_keys=True, allow_nan=False)


def write_json(path: Path, obj: Any, reasons: Reasons = None) -> Path:
    """Write ``obj`` as strict JSON atomically (a temporary file, then a rename)."""
    from mlfactory.artifacts import atomic_write_text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, dumps(obj, reasons) + "\n")


def _reject_constant(token: str) -> Any:
    raise ValueError(f"bare {token} is not JSON")


# ---------------------------------------------------------------------------------------------- reading


def rebuild_hint(path: Path) -> str:
    """The command that rebuilds a run artifact at ``path`` (judged from its place in the run directory)."""
    path = Path(path)
    run = next((p for p in (path.parent, *path.parents) if (p / "manifest.json").is_file()), None)
    if run is None:
        return "recreate it with the command that wrote it"
    rel = path.relative_to(run).parts
    top = rel[0] if rel else ""
    if top in ("manifest.json", "data", "features", "labels", "splits.json"):
        return f"rebuild the run with `mlfactory pipeline run --data FILE --symbol S --out {run} --force`"
    if top == "models" and len(rel) > 1:
        name, _, h = rel[1].rpartition("_h")
        return f"retrain it with `mlfactory train --run {run} --model {name or rel[1]} --horizon {h or 'H'}`"
    if top == "ensembles":
        return f"retrain it with `mlfactory train-ensemble --run {run} ...`"
    if top == "cv":
        return f"recompute it with `mlfactory cv --run {run} ...`"
    if top == "backtests":
        return f"rerun it with `mlfactory backtest --run {run} --walk-forward ...`"
    return f"delete it and rerun the command that wrote it into {run}"


def read_json(path: Path, what: str = "JSON file") -> Any:
    """Parse a JSON artifact; missing, unreadable or corrupt files raise ``ArtifactError`` with the fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text, parse_constant=_reject_constant)
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path}: {what} not found; {rebuild_hint(path)}") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"{path}: {what} is unreadable or corrupt ({exc}); {rebuild_hint(path)}") from exc


def read_parquet(path: Path, what: str = "Parquet file", **kwargs: Any) -> Any:
    """``polars.read_parquet`` with a missing or truncated file reported as ``ArtifactError`` with the fix."""
    import polars as pl

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: {what} not found; {rebuild_hint(path)}")
    try:
        return pl.read_parquet(path, **kwargs)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ArtifactError(f"{path}: {what} is unreadable or corrupt ({exc}); {rebuild_hint(path)}") from exc
