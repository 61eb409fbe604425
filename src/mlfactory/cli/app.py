"""The ``mlfactory`` typer application.

Command modules import only typer, rich and light mlfactory modules at the top; frameworks are
imported inside the command bodies, so ``mlfactory --help`` and ``mlfactory models`` start fast
(a test checks that no heavy library is loaded). Every command runs inside the one error boundary
(``common.guard``), applied below to everything registered.
"""

from __future__ import annotations

import typer

from mlfactory.cli.backtest_cmd import backtest
from mlfactory.cli.common import guard_all
from mlfactory.cli.data_cmd import data_app
from mlfactory.cli.demo_cmd import demo
from mlfactory.cli.ensemble_cmd import train_ensemble
from mlfactory.cli.features_cmd import features_app
from mlfactory.cli.grid_cmd import grid
from mlfactory.cli.models_cmd import models
from mlfactory.cli.monitor_cmd import monitor
from mlfactory.cli.pipeline_cmd import pipeline_app
from mlfactory.cli.predict_cmd import predict
from mlfactory.cli.report_cmd import leaderboard, report
from mlfactory.cli.serve_cmd import serve
from mlfactory.cli.stitch_cmd import stitch
from mlfactory.cli.train_cmd import cv, train

app = typer.Typer(
    name="mlfactory",
    help="ML factory for intraday futures: leak-free datasets, models, stacked ensembles, backtests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: rendering it with rich.markdown costs ~0.2 s at start-up
)
app.add_typer(data_app, name="data")
data_app.command("stitch")(stitch)
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(features_app, name="features")
app.command("models")(models)
app.command("demo")(demo)
app.command("train")(train)
app.command("cv")(cv)
app.command("train-ensemble")(train_ensemble)
app.command("report")(report)
app.command("leaderboard")(leaderboard)
app.command("predict")(predict)
app.command("backtest")(backtest)
app.command("grid")(grid)
app.command("serve")(serve)
app.command("monitor")(monitor)

guard_all(app)  # keep last: the error boundary around every command registered above
