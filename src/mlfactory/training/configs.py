"""Resolving a model's config for one command: YAML overrides, ``--param`` routing, routing keys.

``--param`` items are ``KEY=VALUE`` (to every listed model that has ``KEY``) or ``MODEL.KEY=VALUE``
(to that model). Besides hyper-parameters, ``KEY`` may be a routing key — ``timeframe``,
``feature_set`` or ``mtf_timeframes`` (comma-separated) — so ``cv``, ``train-ensemble`` and ``grid``
can move a base to another timeframe or feature set from the command line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlfactory.errors import ConfigError
from mlfactory.models.config import ModelConfig, apply_overrides, load_model_config

ROUTING_KEYS = ("timeframe", "feature_set", "mtf_timeframes")


def resolve_config(
    name: str,
    *,
    params: Sequence[str] = (),
    timeframe: str | None = None,
    feature_set: str | None = None,
    config_path: Path | None = None,
) -> ModelConfig:
    """The model's YAML (or class defaults) with the call's overrides applied and validated."""
    routing, hyper = _split_routing(params)
    mtf = routing.get("mtf_timeframes")
    return apply_overrides(
        load_model_config(name, config_path),
        hyper,
        timeframe=timeframe if timeframe is not None else routing.get("timeframe"),
        feature_set=feature_set if feature_set is not None else routing.get("feature_set"),
        mtf_timeframes=None if mtf is None else [t.strip() for t in mtf.split(",") if t.strip()],
    )


def _split_routing(params: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    routing: dict[str, str] = {}
    hyper: list[str] = []
    for item in params:
        key, sep, value = item.partition("=")
        if sep and key.strip() in ROUTING_KEYS:
            routing[key.strip()] = value.strip()
        else:
            hyper.append(item)
    return routing, hyper


def params_per_model(models: Sequence[str], params: Sequence[str]) -> dict[str, list[str]]:
    """Route ``--param`` overrides: ``MODEL.KEY=V`` to that model, ``KEY=V`` to every model that has ``KEY``."""
    from mlfactory.models.registry import get_model_class

    out: dict[str, list[str]] = {m: [] for m in models}
    for item in params:
        key = item.partition("=")[0].strip()
        target, dot, _ = key.partition(".")
        if dot and target in out:
            out[target].append(item[len(target) + 1 :])
            continue
        if dot:
            raise ConfigError(
                f"--param {item!r}: model {target!r} is not among the models {', '.join(models)}"
            )
        takers = [m for m in models if key in ROUTING_KEYS or key in get_model_class(m).Params.model_fields]
        if not takers:
            raise ConfigError(f"--param {item!r}: none of {', '.join(models)} has a parameter {key!r}")
        for m in takers:
            out[m].append(item)
    return out


def resolve_configs(models: Sequence[str], params: Sequence[str]) -> dict[str, ModelConfig]:
    """Every model's resolved config, with ``--param`` items routed to their models."""
    per_model = params_per_model(models, params)
    return {m: resolve_config(m, params=per_model[m]) for m in models}


def routing_record(
    cfg: ModelConfig, feature_names: Sequence[str], coverage: dict[str, Any]
) -> dict[str, Any]:
    """``routing.json``: what a model received — timeframe, MTF strategy, the exact columns, coverage."""
    cls = cfg.model_cls
    return {
        "model": cfg.model,
        "family": cls.family.value,
        "input": cls.input_kind.value,
        "timeframe": cfg.timeframe,
        "mtf_strategy": cfg.mtf_strategy.value,
        "mtf_timeframes": list(cfg.mtf_timeframes),
        "feature_set": cfg.feature_set,
        "n_features": len(feature_names),
        "features": list(feature_names),
        "coverage": coverage,
        "config_source": cfg.source,
        "params": cfg.params.model_dump(mode="json"),
    }
