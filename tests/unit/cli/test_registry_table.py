"""The registry's static metadata table equals what every model class declares."""

from __future__ import annotations

from mlfactory.cli.report_cmd import DEFAULT_METRIC, LEADERBOARD_METRICS
from mlfactory.models.registry import MODELS, all_models, describe, model_table


def test_static_table_matches_the_classes():
    classes = all_models()
    assert sorted(MODELS) == sorted(classes), "add/remove the model in models/registry.py MODELS"
    for name, cls in classes.items():
        info = MODELS[name]
        assert info.describe() == describe(cls), f"MODELS[{name!r}] disagrees with {cls.__qualname__}"
        assert f"mlfactory.models.{info.module}" == cls.__module__


def test_model_table_rows_are_sorted_and_complete():
    rows = model_table()
    assert [r["name"] for r in rows] == sorted(all_models())


def test_leaderboard_metric_names_match_the_evaluation_package():
    from mlfactory.evaluation.report import DEFAULT_METRIC as default
    from mlfactory.evaluation.report import METRIC_DIRECTIONS

    assert LEADERBOARD_METRICS == tuple(METRIC_DIRECTIONS)
    assert DEFAULT_METRIC == default


def test_seed_bound_matches_the_config():
    from mlfactory.cli.options import SEED_MAX
    from mlfactory.config import SEED_MAX as config_max

    assert SEED_MAX == config_max == 2**32 - 1
