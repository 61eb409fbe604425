"""Every failure is a message: wrong flags, files and corrupt artifacts end in exit 2, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mlfactory.cli import app
from mlfactory.cli.common import BUG, USER_ERROR, guard

RUNNER = CliRunner()


def run_cli(*args: object):
    return RUNNER.invoke(app, [str(a) for a in args])


def assert_message(result, *needles: str) -> str:
    """Exit 2, nothing on stdout, a message (no traceback) on stderr that contains ``needles``."""
    text = " ".join(result.stderr.replace("│", " ").split())  # rich wraps and boxes usage errors
    assert result.exit_code == USER_ERROR, f"exit {result.exit_code}: {result.exception!r}\n{text}"
    assert isinstance(result.exception, SystemExit | None)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    for n in needles:
        assert n in text, f"{n!r} not in {text!r}"
    return text


@pytest.fixture
def binary(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    return path


@pytest.fixture
def bars(tmp_path: Path) -> Path:
    from mlfactory.data.synthetic import generate_bars

    path = tmp_path / "bars.parquet"
    generate_bars(500, seed=3).write_parquet(path)
    return path


def test_binary_config_is_a_message(binary, bars, tmp_path):
    result = run_cli(
        "pipeline", "run", "--data", bars, "--symbol", "MES", "--out", tmp_path / "r", "--config", binary
    )
    assert_message(result, str(binary), "not UTF-8 text")


def test_binary_recipe_is_a_message(binary, tmp_path):
    result = run_cli("train-ensemble", "--run", tmp_path, "--recipe", binary)
    assert_message(result, str(binary), "recipe")


def test_out_pointing_at_a_file_is_a_message(bars, tmp_path):
    target = tmp_path / "a_file"
    target.write_text("x")
    for out in (target, target / "below"):
        result = run_cli("pipeline", "run", "--data", bars, "--symbol", "MES", "--out", out)
        assert_message(result, "--out", "is a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_out_in_an_unwritable_directory_is_a_message(bars, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = run_cli("pipeline", "run", "--data", bars, "--symbol", "MES", "--out", locked / "run")
    assert_message(result, "not writable")


@pytest.mark.parametrize("seed", ["-1", str(2**40), "x"])
def test_seed_outside_numpys_range_is_a_message(seed, tmp_path):
    result = run_cli("train", "--run", tmp_path, "--model", "logistic", "--horizon", "10", "--seed", seed)
    assert_message(result, "--seed")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("[]", "must be a JSON object"),
        ('{"symbol": 3, "seed": "many", "input": []}', "invalid run manifest"),
        ('{"mlfactory": "run", "symbol": "MES"', "corrupt"),
    ],
)
def test_bad_manifest_is_a_message(tmp_path, content, needle):
    (tmp_path / "manifest.json").write_text(content)
    result = run_cli("train", "--run", tmp_path, "--model", "logistic", "--horizon", "10")
    assert_message(result, "manifest.json", needle, "mlfactory pipeline run")


def _copy_run(small_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    return run


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_parquet_in_a_run_names_the_file_and_the_rebuild(small_run, tmp_path):
    run = _copy_run(small_run, tmp_path)
    _truncate(run / "labels" / "h10.parquet")
    result = run_cli("train", "--run", run, "--model", "logistic", "--horizon", "10")
    assert_message(result, "h10.parquet", "mlfactory pipeline run")


def test_truncated_metrics_json_names_the_file(small_run, tmp_path):
    run = _copy_run(small_run, tmp_path)
    model = run / "models" / "logistic_h10"
    model.mkdir(parents=True)
    from mlfactory.run_dir import current_generation, stamp_generation

    stamp_generation(model, current_generation(run))  # a current artifact, so readers must open it
    (model / "metrics.json").write_text('{"classification": {"test": ')
    for args in (("report", run), ("leaderboard", tmp_path)):
        assert_message(run_cli(*args), "metrics.json")


def test_a_bug_exits_1_with_a_short_message(monkeypatch, capsys):
    @guard
    def broken() -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.delenv("MLFACTORY_DEBUG", raising=False)
    with pytest.raises(SystemExit) as info:
        import typer

        try:
            broken()
        except typer.Exit as exc:
            raise SystemExit(exc.exit_code) from None
    assert info.value.code == BUG
    err = capsys.readouterr().err
    assert "internal error" in err and "MLFACTORY_DEBUG" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------- generated probes

GARBAGE = st.one_of(
    st.binary(min_size=1, max_size=300),
    st.sampled_from([b"[1, 2", b"- a\n- b\n", b"seed: -5\n", b"labels: {horizons: []}\n", b"\x00\xff\xfe"]),
)
BAD_INT = st.one_of(
    st.integers(max_value=-1), st.integers(min_value=2**32), st.sampled_from(["x", "1.5", ""])
)


@st.composite
def wrong_invocations(draw, workdir: Path):
    garbage = workdir / f"g{draw(st.integers(0, 3))}.yaml"
    garbage.write_bytes(draw(GARBAGE))
    a_file = workdir / "plain_file"
    a_file.write_text("x")
    missing = workdir / "missing.parquet"
    case = draw(st.sampled_from(["config", "recipe", "seed", "out", "data", "manifest", "horizon"]))
    if case == "config":
        return [
            "pipeline",
            "run",
            "--data",
            a_file,
            "--symbol",
            "MES",
            "--out",
            workdir / "r",
            "--config",
            garbage,
        ]
    if case == "recipe":
        return ["train-ensemble", "--run", workdir, "--recipe", garbage]
    if case == "seed":
        return ["cv", "--run", workdir, "--models", "logistic", "--horizon", "10", "--seed", draw(BAD_INT)]
    if case == "out":
        return [
            "pipeline",
            "run",
            "--data",
            missing,
            "--symbol",
            "MES",
            "--out",
            a_file / draw(st.sampled_from(["", "x"])),
        ]
    if case == "data":
        return ["data", "validate", draw(st.sampled_from([missing, garbage, workdir]))]
    if case == "horizon":
        return ["train", "--run", workdir, "--model", "logistic", "--horizon", draw(BAD_INT)]
    (workdir / "manifest.json").write_bytes(draw(GARBAGE))
    return [
        "train",
        "--run",
        workdir,
        "--model",
        draw(st.sampled_from(["logistic", "nope"])),
        "--horizon",
        "10",
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_wrong_arguments_and_files_never_end_in_a_traceback(tmp_path, data):
    args = data.draw(wrong_invocations(tmp_path))
    result = run_cli(*args)
    assert result.exit_code == USER_ERROR, (
        f"{args}: exit {result.exit_code} {result.exception!r}\n{result.stderr}"
    )
    assert isinstance(result.exception, SystemExit | None), f"{args}: {result.exception!r}"
    assert "Traceback" not in result.stderr


def test_json_output_is_strict(tmp_path):
    result = run_cli("models", "--json")
    assert result.exit_code == 0
    json.loads(result.stdout, parse_constant=lambda t: pytest.fail(f"bare {t} in --json output"))


def test_typer_exit_inside_a_command_passes_through_the_boundary():
    import typer

    @guard
    def quits() -> None:
        raise typer.Exit(code=3)

    with pytest.raises(typer.Exit) as info:
        quits()
    assert info.value.exit_code == 3
