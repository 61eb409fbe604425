"""Short headline keys next to the full flattened metrics, so MLflow's run table reads at a glance.

From the flattened keys of a metrics.json (``classification.test.model.log_loss`` …) this derives
``test_log_loss``, ``test_prior_log_loss``, ``test_log_loss_vs_prior`` (model − prior: below 0
beats the prior), ``test_sharpe`` and every ``sharpe*`` entry beside it (its standard error and
interval when the metrics carry them), ``test_pnl_currency``, ``dsr``, ``pbo`` and ``coverage``.
A headline is only added when its source key is present; a key the flattening already produced
is never overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping

SPLITS = ("val", "test", "oos")  # oos: a walk-forward backtest's stitched out-of-sample series
DSR_KEYS = ("overfitting.dsr", "overfitting.deflated_sharpe.dsr", "overfitting.deflated_sharpe")
PBO_KEYS = ("overfitting.pbo", "overfitting.pbo.pbo", "overfitting.pbo.value")
COVERAGE_KEYS = ("coverage", "coverage.fraction", "coverage.test.fraction")
HEADLINE_NAMES = ("dsr", "pbo", "coverage")


def headline_metrics(flat: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for split in SPLITS:
        out |= _classification(flat, split) | _trading(flat, split)
    for name, keys in (("dsr", DSR_KEYS), ("pbo", PBO_KEYS), ("coverage", COVERAGE_KEYS)):
        value = _first(flat, keys)
        if value is not None:
            out[name] = value
    return {k: v for k, v in out.items() if k not in flat}


def is_headline(key: str) -> bool:
    """Whether ``key`` is one of the keys :func:`headline_metrics` makes."""
    return key in HEADLINE_NAMES or key.startswith(tuple(f"{s}_" for s in SPLITS))


def _classification(flat: Mapping[str, float], split: str) -> dict[str, float]:
    out: dict[str, float] = {}
    model = flat.get(f"classification.{split}.model.log_loss")
    prior = flat.get(f"classification.{split}.prior.log_loss")
    bal = flat.get(f"classification.{split}.model.balanced_accuracy")
    if model is not None:
        out[f"{split}_log_loss"] = model
    if prior is not None:
        out[f"{split}_prior_log_loss"] = prior
    if model is not None and prior is not None:
        out[f"{split}_log_loss_vs_prior"] = model - prior
    if bal is not None:
        out[f"{split}_balanced_accuracy"] = bal
    return out


def _trading(flat: Mapping[str, float], split: str) -> dict[str, float]:
    base = f"trading.{split}.strategy."
    out = {f"{split}_{k[len(base) :]}": v for k, v in flat.items() if k.startswith(base + "sharpe")}
    pnl = flat.get(base + "total_pnl_currency")
    if pnl is not None:
        out[f"{split}_pnl_currency"] = pnl
    trades = flat.get(base + "trade_count")
    if trades is not None:
        out[f"{split}_trades"] = trades
    return out


def _first(flat: Mapping[str, float], keys: tuple[str, ...]) -> float | None:
    return next((flat[k] for k in keys if k in flat), None)
