"""Experiment tracking: every ``train``, ``cv``, ``train-ensemble``, ``grid`` and ``backtest`` recorded to MLflow.

A parent run per command; child runs per model, ensemble (with a child per base model), cv model
(with a child per fold) and backtest. Params hold the resolved model config and routing, horizon,
seed and data hash; metrics are the command's metrics.json files flattened (``flatten``) plus
headline keys (``headline``); the run directory's key JSON files (and report.html) are artifacts.
Predictions and OOF arrays stay in the run's Parquet files.

Nothing here imports ``mlflow`` at module level: it is loaded only when a store is opened.
"""

from mlfactory.tracking.command import track_command, tracked
from mlfactory.tracking.flatten import FlatMetrics, flatten_metrics, flatten_params, unflatten
from mlfactory.tracking.store import TrackingError, default_tracking_uri, open_store, resolve_tracking_uri

__all__ = [
    "FlatMetrics",
    "TrackingError",
    "default_tracking_uri",
    "flatten_metrics",
    "flatten_params",
    "open_store",
    "resolve_tracking_uri",
    "track_command",
    "tracked",
    "unflatten",
]
