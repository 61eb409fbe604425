"""Streaming = batch: bars fed one at a time to the live predictor give batch `predict`'s output.

Bundles are trained through the real pipeline on the shared small run (synthetic MES bars with
missing minutes and outages); the live predictor is warmed up on the history up to a point and
then fed the following minutes, across session breaks and a holiday closure.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlfactory.data.synthetic import generate_bars
from mlfactory.data.validate import validate_bars
from mlfactory.errors import DataError
from mlfactory.models.base import PROBA_COLUMNS
from mlfactory.pipeline import load_and_validate
from mlfactory.serving.bundle import GUARD_CANDIDATES, Bundle
from mlfactory.serving.inference import combiner_bases, predict_bars
from mlfactory.serving.live import BAR_FIELDS, LivePredictor, TailData, bars_frame

EXACT = 1e-9
# Against one batch call over the whole file: linear and kernel models compute in float64, so a row's
# prediction does not depend on the batch (see test_batch_predict_at_t_does_not_depend_on_later_rows).
WHOLE_FILE = 1e-9
# Neural bases run in float32 (torch): a window's output moves with the batch it is computed in by
# ~1e-8 (GEMM blocking), so against one whole-file batch they are compared at 1e-6.
WHOLE_FILE_NEURAL = 1e-6


def _across_session_break(bars: pl.DataFrame, before: int, after: int) -> int:
    """Index of the first minute ``before`` minutes ahead of the last session start with ``after`` minutes after it."""
    day = bars["trading_day"]
    starts = np.flatnonzero((day != day.shift(1)).fill_null(False).to_numpy())
    start = int(starts[starts + after <= bars.height][-1])
    return start - before


def _feed(live: LivePredictor, bars: pl.DataFrame, as_records: bool) -> pl.DataFrame:
    if not as_records:
        return live.update_validated(bars)
    out = [live.update(r) for r in bars.select(BAR_FIELDS).to_dicts()]
    return pl.concat([o for o in out if o.height]) if any(o.height for o in out) else out[0]


def _assert_same(
    stream: pl.DataFrame, bundle: Bundle, bars: pl.DataFrame, since, whole_file: float = WHOLE_FILE
) -> None:
    """The decisions and probabilities of batch `predict` over the same bars.

    Exact (≤ 1e-9) against batch `predict` run at each decision as it closes (one decision per call,
    as the live predictor predicts); against one batch call over the whole file also ≤ 1e-9, except
    for float32 neural bases (``WHOLE_FILE_NEURAL``).
    """
    batch, _ = predict_bars(bundle, bars)
    expected = batch.filter(pl.col("timestamp") > since)
    assert stream["timestamp"].to_list() == expected["timestamp"].to_list()
    assert stream.height > 0
    np.testing.assert_allclose(
        stream.select(PROBA_COLUMNS).to_numpy(),
        expected.select(PROBA_COLUMNS).to_numpy(),
        rtol=0,
        atol=whole_file,
    )
    for t in stream["timestamp"].gather([0, stream.height - 1]):
        one, _ = predict_bars(bundle, bars.filter(pl.col("timestamp") <= t), latest=1)
        got = stream.filter(pl.col("timestamp") == t)
        assert one["timestamp"].to_list() == [t]
        np.testing.assert_allclose(
            got.select(PROBA_COLUMNS).to_numpy(), one.select(PROBA_COLUMNS).to_numpy(), rtol=0, atol=EXACT
        )
        assert got["position"].to_list() == one["position"].to_list()
    assert stream["bases_used"].to_list() == expected["bases_used"].to_list()
    if bundle.spec.coverage_policy == "drop":  # every row of a 'drop' stack has every base the combiner reads
        assert set(stream["bases_used"]) == {",".join(combiner_bases(bundle))}


@pytest.mark.parametrize("keep", GUARD_CANDIDATES)
def test_streaming_equals_batch_for_every_guard_outcome(
    bars_of, tabular_bundles: dict[str, Bundle], small_run: Path, keep: str
) -> None:
    bundle = tabular_bundles[keep]
    bars = bars_of(bundle)
    split = _across_session_break(bars, before=30, after=60)
    live = LivePredictor.from_history(bundle, bars.head(split))
    stream = _feed(live, bars.slice(split), as_records=(keep == "meta"))
    _assert_same(stream, bundle, bars, bars["timestamp"][split - 1])


def test_live_features_equal_the_batch_features(
    bars_of, tabular_bundles: dict[str, Bundle], small_run: Path
) -> None:
    bundle = tabular_bundles["meta"]
    bars = bars_of(bundle)
    live = LivePredictor.from_history(bundle, bars.head(bars.height - 50))
    live.update_validated(bars.tail(50))
    frames = live.ladder.frames()
    mtf_for = live.needs.mtf_for  # MTF columns only where a base reads them
    whole_tails = TailData(frames, bundle, live.needs.own, {}, {}, mtf_for=mtf_for)
    own_tails = TailData(frames, bundle, live.needs.own, {}, {}, live.tails_report, live.needs.rows, mtf_for)
    from mlfactory.serving.inference import InferenceData

    full = InferenceData(bars, bundle)
    # each feature on its own verified tail: shorter than the timeframe's longest for some features
    lengths = [n for r in live.tails_report.values() for n in r["own"].values()]
    assert len(set(lengths)) > 1
    for tf, tails in [(tf, t) for tf in live.needs.own for t in (whole_tails, own_tails)]:
        got = tails.features(tf)
        want = full.features(tf).join(got.select("timestamp"), on="timestamp", how="semi")
        got = got.join(want.select("timestamp"), on="timestamp", how="semi").tail(10)
        want = want.tail(got.height)
        assert got.height >= 9  # the rows a decision reads (TailNeeds.rows) at least
        cols = [c for c in got.columns if c != "timestamp"]
        readers = [b for b in bundle.bases.values() if b.config.timeframe == tf]
        assert all(f in cols for b in readers for f in b.features)  # every column a base reads
        assert got.select(cols).equals(want.select(cols)), tf


def test_window_and_multistream_bases_stream_like_batch(
    bars_of, mixed_bundle: Bundle, small_run: Path
) -> None:
    bars = bars_of(mixed_bundle)
    split = _across_session_break(bars, before=20, after=25)
    live = LivePredictor.from_history(mixed_bundle, bars.head(split))
    stream = live.update_validated(bars.slice(split))
    _assert_same(stream, mixed_bundle, bars, bars["timestamp"][split - 1], WHOLE_FILE_NEURAL)


def test_streaming_across_a_holiday_equals_batch(tabular_bundles: dict[str, Bundle]) -> None:
    """Generated bars over Christmas (closed exchange, early close) with missing minutes and outages."""
    bundle = tabular_bundles["weighted_average"]
    raw = generate_bars(
        16_000, start=date(2023, 12, 11), seed=3, missing_minute_rate=0.03, outages_per_100k=40
    )
    bars, _ = validate_bars(raw.with_row_index("row"), path=Path("synthetic"), instrument=bundle.instrument,
                            policies=bundle.config.data.validation)  # fmt: skip
    bars = bars.drop("row")
    days = bars["trading_day"].unique().to_list()
    assert date(2023, 12, 25) not in days and date(2023, 12, 26) in days
    # warm up until an hour before the holiday's early close, stream into the next session
    split = int(np.searchsorted(bars["trading_day"].to_numpy(), np.datetime64("2023-12-26"))) - 60
    live = LivePredictor.from_history(bundle, bars.head(split))
    # tails shorter than the history were checked against it (bit-identical features on their second half)
    verified = {tf: r for tf, r in live.tails_report.items() if r["verified"]}
    assert verified and all(r["checked_rows"] > 0 for r in verified.values())
    assert all(live.ladder.tails[tf].length == r["length"] for tf, r in live.tails_report.items())
    stream = live.update_validated(bars.slice(split, 150))
    _assert_same(stream, bundle, bars.head(split + 150), bars["timestamp"][split - 1])


def test_clean_minutes_skip_the_full_validation_with_the_same_result(
    bars_of, tabular_bundles: dict[str, Bundle]
) -> None:
    """The live fast path for a clean minute gives exactly what ``validate_bars`` gives, across a
    session break, and anything unusual goes through the full validation."""
    bundle = tabular_bundles["meta"]
    bars = bars_of(bundle)
    split = _across_session_break(bars, before=30, after=60)
    live = LivePredictor.from_history(bundle, bars.head(split))
    policies = bundle.config.data.validation
    fast = 0
    for r in bars.slice(split, 90).select(BAR_FIELDS).to_dicts():
        frame = bars_frame([r], "test")
        full, _ = validate_bars(frame, path=Path("test"), instrument=bundle.instrument, policies=policies)
        fast += live._clean_minute(frame) is not None
        got = live.validate([r])
        assert got.equals(full.drop("row"))
        live.update_validated(got)
    assert fast >= 80  # all but the first minute of the new session (a new session is looked up)
    last = bars.slice(split + 90, 1).select(BAR_FIELDS).to_dicts()[0]
    unusual = [
        {**last, "volume": 0.0},  # zero volume: kept with a warning by the policy, not by the fast path
        {**last, "high": last["close"] * 10},  # implausible: refused by the full validation
        {**last, "low": last["high"] + 1.0},  # inconsistent OHLC: repaired by the full validation
    ]
    for bar in unusual:
        assert live._clean_minute(bars_frame([bar], "test")) is None


def test_saved_state_continues_without_the_history(
    bars_of, tabular_bundles: dict[str, Bundle], small_run: Path, tmp_path: Path
) -> None:
    bundle = tabular_bundles["meta"]
    bars = bars_of(bundle)
    split = bars.height - 120
    a = LivePredictor.from_history(bundle, bars.head(split))
    a.update_validated(bars.slice(split, 60))
    a.save_state(tmp_path / "state")
    assert not list((tmp_path / "state").glob("*.pkl"))
    b = LivePredictor.load_state(bundle, tmp_path / "state")
    rest = bars.slice(split + 60)
    assert a.update_validated(rest).equals(b.update_validated(rest))


def test_too_little_history_says_what_each_base_needs(
    bars_of, tabular_bundles: dict[str, Bundle], small_run: Path
) -> None:
    bundle = tabular_bundles["meta"]
    bars = bars_of(bundle)
    with pytest.raises(
        DataError, match=r"random_forest: \d+ closed 15m bars \(~\d+ trading days\), given \d+"
    ):
        LivePredictor.from_history(bundle, bars.head(300))


def test_bad_and_stale_bars_are_refused_and_leave_the_state_unchanged(
    bars_of, tabular_bundles: dict[str, Bundle], small_run: Path
) -> None:
    bundle = tabular_bundles["meta"]
    bars = bars_of(bundle)
    live = LivePredictor.from_history(bundle, bars.head(bars.height - 5))
    before = (live.ladder.last_ts, live.bars_seen)
    last = bars.slice(bars.height - 6, 1).select(BAR_FIELDS).to_dicts()[0]
    assert live.update(last).height == 0  # a duplicate: the bundle's policy drops it, and counts it
    assert live.dropped == {"duplicates": 1}
    older = bars.slice(bars.height - 9, 1).select(BAR_FIELDS).to_dicts()[0]
    with pytest.raises(DataError, match="earlier than the last accepted bar"):
        live.update(older)
    nxt = bars.slice(bars.height - 5, 1).select(BAR_FIELDS).to_dicts()[0]
    with pytest.raises(DataError, match="row 0, field 'timestamp'"):
        live.update({**nxt, "timestamp": "yesterday"})
    with pytest.raises(DataError, match="missing field"):
        live.update({k: v for k, v in nxt.items() if k != "close"})
    assert (live.ladder.last_ts, live.bars_seen) == before
    live.update(nxt)
    assert live.bars_seen == before[1] + 1


def test_predict_stream_writes_the_batch_output(
    tabular_bundles: dict[str, Bundle], small_run: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from mlfactory.cli.app import app

    bundle = tabular_bundles["weighted_average"]
    manifest = json.loads((small_run / "manifest.json").read_text())
    data = tmp_path / "first_days.parquet"
    pl.read_parquet(manifest["input"]["path"]).head(4_500).write_parquet(data)
    runner = CliRunner()
    outs = {}
    for mode in ("batch", "stream"):
        out = tmp_path / f"{mode}.parquet"
        args = [
            "predict",
            "--bundle",
            str(bundle.directory),
            "--data",
            str(data),
            "--out",
            str(out),
            "--json",
        ]
        res = runner.invoke(app, [*args, "--stream"] if mode == "stream" else args)
        assert res.exit_code == 0, res.output
        outs[mode] = (json.loads(res.stdout), pl.read_parquet(out))
    (sb, b), (ss, s) = outs["batch"], outs["stream"]
    assert (
        ss["mode"] == "stream"
        and ss["predicted"] == sb["predicted"] > 0
        and ss["decisions"] == sb["decisions"]
    )
    assert s.columns == b.columns and s["timestamp"].equals(b["timestamp"])
    np.testing.assert_allclose(
        s.select(PROBA_COLUMNS).to_numpy(), b.select(PROBA_COLUMNS).to_numpy(), atol=WHOLE_FILE
    )


def test_real_mes_streaming_across_the_july_4th_closure_equals_batch(
    tabular_bundles: dict[str, Bundle], real_mes_path: Path
) -> None:
    """The real MES sample (skipped when absent): from the early close of 2025-07-03 into the next session."""
    from datetime import UTC, datetime

    bundle = tabular_bundles["meta"]
    bars, _ = load_and_validate(real_mes_path, bundle.instrument, bundle.config)
    bars = bars.drop("row")
    split = int(bars["timestamp"].search_sorted(datetime(2025, 7, 3, 16, 30, tzinfo=UTC)))
    window = bars.head(split + 150)
    assert window["trading_day"][-1] > window["trading_day"][split]  # the fed minutes cross the closure
    live = LivePredictor.from_history(bundle, bars.head(split))
    # tails shorter than the history were checked against it (bit-identical features on their second half)
    verified = {tf: r for tf, r in live.tails_report.items() if r["verified"]}
    assert verified and all(r["checked_rows"] > 0 for r in verified.values())
    assert all(live.ladder.tails[tf].length == r["length"] for tf, r in live.tails_report.items())
    stream = live.update_validated(bars.slice(split, 150))
    _assert_same(stream, bundle, window, bars["timestamp"][split - 1])


def test_a_kept_best_base_predicts_wherever_it_can_without_the_other_bases(small_run: Path, bars_of) -> None:
    """The guard kept random_forest alone and no fallback: tcn (a 60-bar window) is neither computed nor
    waited for (with a fallback it would be, where random_forest cannot predict: test_fallback_bundles.py)."""
    from mlfactory.serving.bundle import load_bundle
    from mlfactory.training.ensemble import EnsembleSpec, train_ensemble

    spec = EnsembleSpec(
        bases=("random_forest", "tcn"),
        meta_learner="logistic",
        horizon=10,
        params=("random_forest.n_estimators=10", "tcn.epochs=1", "tcn.seq_len=60", "tcn.progress=false"),
        n_splits=3,
        keep="best_base",
        fallback="none",
        name="live_best_base_window",
    )
    result = train_ensemble(small_run, spec)
    bundle = load_bundle(result.directory)
    assert bundle.spec.fallback.rule == "none"
    best = combiner_bases(bundle)
    assert len(best) == 1 and bundle.combiner.weights_[best[0]] == 1.0
    bars = bars_of(bundle)
    out, _ = predict_bars(bundle, bars)
    assert set(out["bases_used"]) == {best[0]}
    test = pl.read_parquet(result.directory / "predictions_test.parquet")
    joined = test.join(out, on="timestamp", how="left", suffix="_inf")
    assert joined["p_long_inf"].null_count() == 0
    np.testing.assert_allclose(
        joined["p_long"].to_numpy(), joined["p_long_inf"].to_numpy(), rtol=0, atol=EXACT
    )
    # the first decisions of each session are predicted (tcn alone could not: it needs 60 in-session bars)
    assert out.height > test.height and out.height > 0.8 * bars["timestamp"].dt.truncate("5m").n_unique()
    split = _across_session_break(bars, before=20, after=30)
    live = LivePredictor.from_history(bundle, bars.head(split))
    assert "5m" not in live.needs.seq_len  # the window base (tcn on 5m) is not followed at all
    _assert_same(live.update_validated(bars.slice(split)), bundle, bars, bars["timestamp"][split - 1])


def test_batch_predict_at_t_does_not_depend_on_later_rows(
    bars_of, tabular_bundles: dict[str, Bundle]
) -> None:
    bundle = tabular_bundles["meta"]
    bars = bars_of(bundle)
    t = bars["timestamp"][bars.height - 40]
    one, _ = predict_bars(bundle, bars.filter(pl.col("timestamp") <= t), latest=1)
    full, _ = predict_bars(bundle, bars)
    at_t = full.filter(pl.col("timestamp") == one["timestamp"][0])
    np.testing.assert_allclose(
        one.select(PROBA_COLUMNS).to_numpy(), at_t.select(PROBA_COLUMNS).to_numpy(), atol=1e-9
    )
