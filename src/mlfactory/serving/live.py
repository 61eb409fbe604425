"""The live predictor: a bundle fed one closed 1-minute bar at a time.

``LivePredictor.update(bar)`` advances the ladder's open bars (``live_ladder``) and, when a
decision-timeframe bar closes, recomputes the features the bundle's models use — each on its own
verified tail of closed bars, with the batch kernels and the bundle's fitted state (``tail_data``)
— and runs the same prediction code as batch ``predict`` on them. So streaming equals batch by
construction, and the cost depends on the features' tail lengths (``tails``), not on the history.
A clean minute (the common case) is accepted by a fast check that gives what the full validation
would (``_clean_minute``); anything unusual goes through ``validate_bars`` with the bundle's policies.

Warm-up: ``from_history`` validates a history with the bundle's conventions, checks that it is long
enough for every base, builds the tails, and verifies the tail lengths on it. ``save_state`` writes
the tails (Parquet) and the open bins (JSON); ``load_state`` restores them without the history.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlfactory.adapters.stacking import probability_frame
from mlfactory.data.plausibility import implausible_price, implausible_volume
from mlfactory.data.resample import build_ladder
from mlfactory.data.sessions import MINUTE_NS
from mlfactory.data.validate import validate_bars
from mlfactory.errors import ArtifactError, DataError
from mlfactory.features.registry import feature_defs
from mlfactory.models.base import PROBA_COLUMNS, InputKind
from mlfactory.serving.bundle import Bundle, LoadedBase
from mlfactory.serving.fallback import fallback_active
from mlfactory.serving.inference import empty_predictions, inference_bases, predict_base, predict_data
from mlfactory.serving.live_ladder import LiveLadder
from mlfactory.serving.tail_data import TailData
from mlfactory.serving.tails import TailNeeds, tail_needs, verify_tails
from mlfactory.timeframes import tf_minutes

STATE_FORMAT = "mlfactory-live-state/2"  # /2: per-feature tail lengths
BAR_FIELDS = ("timestamp", "open", "high", "low", "close", "volume")
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200
KEEP_RECENT = 2_000  # feature rows per timeframe kept for drift monitoring
PENDING_FRAMES = 64  # decision frames queued before they are merged into the recent rows
MAX_LIVE_GAP_NS = 366 * 86_400 * 1_000_000_000  # a live bar more than a year after the last one is refused


class LivePredictor:
    """A bundle with state: ``update`` one validated minute at a time, predictions at decision closes."""

    def __init__(self, bundle: Bundle, lengths: dict[str, int], tails_report: dict[str, Any] | None = None):
        if bundle.config.ladder.partial_bars != "drop":
            raise ArtifactError(
                f"{bundle.directory}: the live predictor follows ladder.partial_bars='drop'; "
                f"this bundle was trained with {bundle.config.ladder.partial_bars!r}"
            )
        self.bundle = bundle
        self.needs: TailNeeds = tail_needs(bundle)
        self.ladder = LiveLadder(lengths)
        self.tails_report = tails_report or {}
        self.decision_tf = bundle.config.ladder.base_timeframe
        self.bars_seen = 0
        self.decisions_seen = 0
        self.dropped: dict[str, int] = {}  # bars a validation policy dropped, by problem
        self._feature_cache: dict[str, tuple[Any, pl.DataFrame]] = {}
        self._base_cache: dict[str, tuple[tuple[Any, ...], np.ndarray]] = {}
        self._base_bars = base_bars_needed(bundle, self.needs)
        self._session: tuple[int, int, pl.DataFrame] | None = None  # (open ns, close ns, columns)
        self.keep_recent = KEEP_RECENT
        self._recent: dict[str, pl.DataFrame] = {}
        self._remembered: dict[str, Any] = {}  # per timeframe, the frame version last queued for _recent
        self._pending: dict[str, list[pl.DataFrame]] = {}  # frames not yet merged into _recent

    # ---- construction ----
    @classmethod
    def from_history(cls, bundle: Bundle, bars_1m: pl.DataFrame, *, verify: bool = True) -> LivePredictor:
        """Warm up on validated 1-minute bars (session columns attached)."""
        needs = tail_needs(bundle)
        ladder = build_ladder(bars_1m, needs.timeframes)
        check_history(bundle, needs, ladder, bars_1m)
        report = verify_tails(bundle.instrument, bundle.fitted, needs, ladder) if verify else {}
        lengths = {tf: report.get(tf, {}).get("length", needs.initial_length(tf)) for tf in needs.timeframes}
        live = cls(bundle, lengths, report)
        live.ladder.warm(bars_1m)
        live._remember_session(bars_1m)
        live._seed_recent()
        live.bars_seen = bars_1m.height
        return live

    @classmethod
    def replaying(cls, bundle: Bundle, bars_1m: pl.DataFrame) -> LivePredictor:
        """An empty predictor for replaying ``bars_1m`` from its first minute (tails checked on it)."""
        needs = tail_needs(bundle)
        report = verify_tails(
            bundle.instrument, bundle.fitted, needs, build_ladder(bars_1m, needs.timeframes)
        )
        return cls(bundle, {tf: r["length"] for tf, r in report.items()}, report)

    # ---- feeding ----
    def validate(
        self, bars: Sequence[Mapping[str, Any]] | pl.DataFrame, source: str = "live bars"
    ) -> pl.DataFrame:
        """Ingest-like checks and the bundle's validation policies on new bars; session columns added."""
        frame = bars_frame(bars, source)
        last = self.ladder.last_ts
        if last is not None:
            ts = frame["timestamp"].dt.epoch("ns").to_numpy()
            far = np.flatnonzero(ts > last + MAX_LIVE_GAP_NS)
            if far.size:
                raise DataError(
                    f"{source}: row {int(far[0])}, field 'timestamp': {frame['timestamp'][int(far[0])]} is more "
                    f"than a year after the last accepted bar ({np.datetime64(last, 'ns')}Z); warm up again from a history"
                )
            stale = np.flatnonzero(ts <= last)
            policies = self.bundle.config.data.validation
            if stale.size:
                row = int(stale[0])
                dup = bool(ts[row] == last)
                problem = "duplicates" if dup else "out_of_order"
                if dup and policies.duplicates == "drop" and (ts[stale] == last).all():
                    self.dropped["duplicates"] = self.dropped.get("duplicates", 0) + int(stale.size)
                    frame = frame.filter(pl.col("timestamp").dt.epoch("ns") > last)
                else:
                    raise DataError(
                        f"{source}: row {row}, field 'timestamp': {frame['timestamp'][row]} is "
                        f"{'the same as' if dup else 'earlier than'} the last accepted bar "
                        f"({np.datetime64(last, 'ns')}Z); bars at or before it cannot be {problem} "
                        "-repaired once features were computed (policy "
                        f"{getattr(policies, problem)!r}); send each closed minute once, in order"
                    )
        if frame.height == 0:
            return frame
        quick = self._clean_minute(frame)
        if quick is not None:
            return quick
        clean, _ = validate_bars(
            frame,
            path=Path(source),
            instrument=self.bundle.instrument,
            policies=self.bundle.config.data.validation,
        )
        clean = clean.drop("row")
        self._remember_session(clean)
        return clean

    def _remember_session(self, bars_1m: pl.DataFrame) -> None:
        """The session of the last accepted minute, for ``_clean_minute``."""
        if bars_1m.height:
            last = bars_1m.tail(1)
            self._session = (
                int(last["session_open"].dt.epoch("ns")[0]),
                int(last["session_close"].dt.epoch("ns")[0]),
                last.select("trading_day", "session_open", "session_close"),
            )

    def _clean_minute(self, frame: pl.DataFrame) -> pl.DataFrame | None:
        """One minute that every check of ``validate_bars`` would accept unchanged, with its session
        columns; None (the full validation runs) for anything else.

        Accepted: finite positive prices, high/low around open and close, finite positive volume,
        a whole-minute stamp inside the session of the last accepted minute, and prices within the
        plausibility band around the bar's own close (``implausible_values`` on a single row, whose
        trailing level is that close). One row has no history, so no spike or roll can be flagged.
        """
        if frame.height != 1 or self._session is None:
            return None
        s_open, s_close, session = self._session
        ts = int(frame["timestamp"].dt.epoch("ns")[0])
        o, h, lo, c, v = (float(frame[k][0]) for k in ("open", "high", "low", "close", "volume"))
        if not all(math.isfinite(x) for x in (o, h, lo, c, v)) or min(o, h, lo, c) <= 0 or v <= 0:
            return None
        if h < max(o, c) or lo > min(o, c) or h < lo or ts % MINUTE_NS or not s_open < ts <= s_close:
            return None
        policies = self.bundle.config.data.validation
        prices = np.array([o, h, lo, c])
        bad = implausible_price(
            prices, c, self.bundle.instrument, policies.implausible_factor, policies.implausible_ticks
        )
        if bad.any() or implausible_volume(np.array(v)):
            return None
        return pl.concat([frame.drop("row"), session], how="horizontal")

    def update(self, bar: Mapping[str, Any]) -> pl.DataFrame:
        """One closed 1-minute bar (validated here) → the predictions of the decisions it closed."""
        return self.update_validated(self.validate([bar]))

    def update_validated(self, bars_1m: pl.DataFrame) -> pl.DataFrame:
        """Validated minutes (with session columns), in order → predictions at each decision closed."""
        if bars_1m.height == 0:
            return _EMPTY_PREDICTIONS
        out = []
        cols = bars_1m.select(
            pl.col("timestamp").dt.epoch("ns"), "open", "high", "low", "close", "volume", "trading_day",
            pl.col("session_open").dt.epoch("ns"), pl.col("session_close").dt.epoch("ns"),
        ).rows()  # fmt: skip
        for row in cols:
            closed = self.ladder.push(*row)
            self.bars_seen += 1
            decisions = sum(1 for tf, _ in closed if tf == self.decision_tf)
            self.decisions_seen += decisions
            if decisions and self._ready():
                pred = self.predict_latest(decisions)
                if pred.height:
                    out.append(pred)
        return pl.concat(out) if out else _EMPTY_PREDICTIONS

    def _ready(self) -> bool:
        """Whether the bases the stack needs have the bars to predict (a necessary condition only);
        with a fallback (or imputation), any one of them suffices."""
        n = self.ladder.n_closed()
        if not all(n[tf] for tf in self.needs.timeframes):
            return False
        ok = [
            all(n[tf] >= need for tf, need in self._base_bars[b].items())
            for b in inference_bases(self.bundle)
        ]
        spec = self.bundle.spec
        return all(ok) if spec.coverage_policy == "drop" and not fallback_active(spec) else any(ok)

    def predict_latest(self, k: int = 1) -> pl.DataFrame:
        """Predictions at the last ``k`` closed decision bars, from the tails."""
        data = TailData(
            self.ladder.frames(), self.bundle, self.needs.own, self._feature_cache, self._last_closed(),
            self.tails_report, self.needs.rows, self.needs.mtf_for,
        )  # fmt: skip
        result, _ = predict_data(self.bundle, data, latest=k, allow_empty=True, predict=self._base_prediction)
        self._remember_features()
        return result

    def _base_prediction(
        self, name: str, base: LoadedBase, data: TailData, clock: np.ndarray
    ) -> pl.DataFrame:
        """A base's prediction at one decision, reused while the bars it reads are the same.

        A tabular or window base reads its timeframe's rows up to the last one closed by the decision,
        and coarser timeframes only through those rows (MTF columns as of each row's stamp): a 20m bar
        that closes at a 5m decision is invisible to a 15m base until its next 15m row. A multi-stream
        base reads each stream's last bars as of the decision. While those bars are the ones read at
        the previous decision, the input — and so the output — is unchanged, and neither its features
        nor its MTF indicators are recomputed.
        """
        if len(clock) != 1:
            return predict_base(name, base, data, clock)
        key = self._input_key(base, int(clock[0]))
        hit = self._base_cache.get(name)
        if hit is None or hit[0] != key:
            frame = predict_base(name, base, data, clock)
            hit = (key, frame.select(PROBA_COLUMNS).to_numpy())
            self._base_cache[name] = hit
        return probability_frame(clock[: len(hit[1])], hit[1])

    def _input_key(self, base: LoadedBase, t: int) -> tuple[Any, ...]:
        """The stamps of the bars a base reads at a decision at ``t`` (``_base_prediction``)."""
        mc = base.config
        if mc.model_cls.input_kind == InputKind.MULTISTREAM:
            return tuple(self._stamp_as_of(tf, t) for tf in base_timeframes(mc))
        row = self._stamp_as_of(mc.timeframe, t)
        if row is None:
            return (None,)
        coarser = [h for h in self.ladder.tails if tf_minutes(h) > tf_minutes(mc.timeframe)]
        return (row, *(self._stamp_as_of(h, row) for h in coarser))

    def _stamp_as_of(self, tf: str, t: int) -> Any:
        """The stamp of ``tf``'s last bar closed at or before ``t`` (None before the first).

        Not simply the last closed bar: minutes missing before a gap close a decision bar and a later
        coarser bar in the same minute, and the decision reads the coarser bar before that one.
        """
        return next((row[0] for row in reversed(self.ladder.tails[tf].closed) if row[0] <= t), None)

    def feature_frames(self) -> dict[str, pl.DataFrame]:
        """The last ``keep_recent`` feature rows of each timeframe (drift reads their recent rows)."""
        for tf in list(self._pending):
            self._merge_pending(tf)
        return dict(self._recent)

    def _remember_features(self) -> None:
        """Queue the frames just computed for the recent rows (the decision frames hold only the
        last few rows of a timeframe, which every decision covers); merged when read, or every
        ``PENDING_FRAMES`` frames, so that a decision does not pay for the concatenation."""
        for tf, (version, frame) in list(self._feature_cache.items()):
            if ":" in tf or self._remembered.get(tf) == version:
                continue  # a part of a frame, or a frame whose rows are already in
            self._remembered[tf] = version
            self._pending.setdefault(tf, []).append(frame)
            if len(self._pending[tf]) >= PENDING_FRAMES:
                self._merge_pending(tf)

    def _merge_pending(self, tf: str) -> None:
        """Append the queued frames' new rows to the timeframe's recent rows, in order."""
        recent = self._recent.get(tf)
        for frame in self._pending.pop(tf, []):
            if recent is not None and recent.height:
                frame = pl.concat([recent, frame.filter(pl.col("timestamp") > recent["timestamp"][-1])])
            recent = frame.tail(self.keep_recent)
        if recent is not None:
            self._recent[tf] = recent

    def _seed_recent(self) -> None:
        """Recent feature rows from the whole tails (once, at warm-up or restore)."""
        data = TailData(self.ladder.frames(), self.bundle, self.needs.own, {}, {}, mtf_for=self.needs.mtf_for)
        self._recent = {tf: data.features(tf).tail(self.keep_recent) for tf in self.needs.own}
        self._pending = {}

    def _last_closed(self) -> dict[str, Any]:
        """Per timeframe, the stamp of its last closed bar (None before the first)."""
        return {tf: (t.closed[-1][0] if t.closed else None) for tf, t in self.ladder.tails.items()}

    # ---- state ----
    def save_state(self, directory: Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for tf, frame in self.ladder.frames().items():
            frame.write_parquet(directory / f"tail_{tf}.parquet")
        state = {
            "format": STATE_FORMAT,
            "bundle": str(self.bundle.directory),
            "bundle_id": self.bundle.spec.ensemble_id,
            "bars_seen": self.bars_seen,
            "tails_report": self.tails_report,
            "ladder": self.ladder.state(),
        }
        (directory / "state.json").write_text(json.dumps(state, indent=1, default=str))
        return directory

    @classmethod
    def load_state(cls, bundle: Bundle, directory: Path) -> LivePredictor:
        directory = Path(directory)
        path = directory / "state.json"
        if not path.is_file():
            raise ArtifactError(f"{path}: no live state here; warm up from a history file (--warmup FILE)")
        state = json.loads(path.read_text())
        if state.get("format") != STATE_FORMAT:
            raise ArtifactError(
                f"{path}: live state format {state.get('format')!r} is not {STATE_FORMAT!r}; warm up again "
                "from a history file (--warmup FILE)"
            )
        if state.get("bundle_id") != bundle.spec.ensemble_id:
            raise ArtifactError(
                f"{path}: state of bundle {state.get('bundle_id')!r}, not of {bundle.spec.ensemble_id!r}; "
                "warm up again for this bundle"
            )
        lengths = state["ladder"]["lengths"]
        frames = {tf: pl.read_parquet(directory / f"tail_{tf}.parquet") for tf in lengths}
        live = cls(bundle, lengths, state["tails_report"])
        live.ladder = LiveLadder.from_state(state["ladder"], frames)
        live.bars_seen = int(state["bars_seen"])
        live._seed_recent()
        return live


def base_bars_needed(bundle: Bundle, needs: TailNeeds) -> dict[str, dict[str, int]]:
    """Per base, the closed bars of each timeframe it reads before its first prediction."""
    out = {}
    for name, loaded in bundle.bases.items():
        mc = loaded.config
        L = int(getattr(mc.params, "seq_len", 0)) if mc.model_cls.input_kind != InputKind.TABULAR else 1
        own = [f for f in loaded.features if "__" not in f] if mc.feature_set != "raw_ohlcv" else []
        warm = max(
            (d.spec.warmup_bars for d in feature_defs(mc.timeframe, bundle.instrument, own)), default=0
        )
        req = {mc.timeframe: warm + L}
        if mc.model_cls.input_kind == InputKind.MULTISTREAM:
            req.update(dict.fromkeys(mc.mtf_timeframes, L))
        out[name] = req
    return out


def base_timeframes(config: Any) -> tuple[str, ...]:
    """The timeframes a base reads: its own and its MTF timeframes (indicator columns or streams)."""
    return (config.timeframe, *config.mtf_timeframes)


def check_history(
    bundle: Bundle, needs: TailNeeds, ladder: dict[str, pl.DataFrame], bars_1m: pl.DataFrame
) -> None:
    """Too little history is an error naming, per base, the bars and trading days needed and given."""
    days_given = bars_1m["trading_day"].n_unique()
    short = []
    for name, loaded in bundle.bases.items():
        tf = loaded.config.timeframe
        tfs = [t for t in (tf, *loaded.config.mtf_timeframes) if t in needs.warmup]
        for t in tfs:
            need = needs.minimum(t)
            have = ladder[t].height
            if have < need:
                days = math.ceil(need / max(needs.session_bars[t] - 1, 1))
                short.append(f"{name}: {need} closed {t} bars (~{days} trading days), given {have}")
    if short:
        raise DataError(
            f"warm-up history too short ({bars_1m.height} one-minute bars over {days_given} trading days): "
            + "; ".join(short)
            + ". Pass a longer history (--warmup FILE)"
        )


def bars_frame(bars: Sequence[Mapping[str, Any]] | pl.DataFrame, source: str) -> pl.DataFrame:
    """Bar records (``timestamp`` ISO 8601 UTC at the bar close, OHLCV) as a canonical frame with ``row``."""
    if isinstance(bars, pl.DataFrame):
        frame = bars
    else:
        for i, b in enumerate(bars):
            missing = [f for f in BAR_FIELDS if f not in b]
            if missing:
                raise DataError(
                    f"{source}: row {i}: missing field(s) {missing}; each bar needs {list(BAR_FIELDS)}"
                )
        frame = pl.DataFrame({f: [b[f] for b in bars] for f in BAR_FIELDS}, strict=False)
    ts = frame["timestamp"]
    if ts.dtype == pl.String:
        parsed = ts.str.to_datetime(time_zone="UTC", strict=False, time_unit="ns")
        bad = parsed.is_null() & ts.is_not_null()
        if bad.any():
            row = int(bad.arg_max())
            raise DataError(
                f"{source}: row {row}, field 'timestamp': {ts[row]!r} is not an ISO 8601 time; "
                "send e.g. 2024-03-04T14:31:00Z (UTC, the bar's close)"
            )
        ts = parsed
    if not isinstance(ts.dtype, pl.Datetime):
        raise DataError(f"{source}: field 'timestamp' must be ISO 8601 text or a datetime, got {ts.dtype}")
    years = ts.dt.year()
    out_of_range = (years < EARLIEST_YEAR) | (years > LATEST_YEAR)
    if out_of_range.any():
        row = int(out_of_range.arg_max())
        raise DataError(
            f"{source}: row {row}, field 'timestamp': {ts[row]} is outside {EARLIEST_YEAR}-{LATEST_YEAR}; "
            "send the bar's close time in UTC"
        )
    ts = ts.dt.convert_time_zone("UTC") if ts.dtype.time_zone else ts.dt.replace_time_zone("UTC")
    cols = {"timestamp": ts.dt.cast_time_unit("ns")}
    for f in BAR_FIELDS[1:]:
        try:
            cols[f] = frame[f].cast(pl.Float64, strict=True)
        except pl.exceptions.InvalidOperationError as exc:
            raise DataError(f"{source}: field {f!r} must be a number ({exc})") from exc
    return pl.DataFrame(cols).with_row_index("row")


_EMPTY_PREDICTIONS = empty_predictions()  # polars frames are immutable: one shared empty result
