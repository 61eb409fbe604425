"""The one training loop of the sequence models, and the pieces around it.

- Batches stream from a window view: each step materialises only the windows of one shuffled
  index batch (``view.take``), standardises them with train-only statistics and moves them to the
  device. All windows are never held at once.
- Loss: cross-entropy over (-1, 0, 1) weighted per window by ``sample_weight × class factor``
  (balanced class factors ``W / (k · W_c)`` from the training rows; validation rows get the same
  training factors so early stopping measures the objective being fitted). Training row weights are
  rescaled to mean 1, so a batch loss is an unbiased estimate of the weighted mean loss.
- AdamW, a per-step scheduler (one-cycle, cosine or constant), gradient-norm clipping, early
  stopping on the validation loss with the best weights restored.
- Reproducible: module initialisation, shuffling and dropout draw from ``seed`` inside a forked
  RNG (the caller's global RNG state is left untouched); on CPU deterministic algorithms are
  enforced for the duration of the fit. CUDA kernels may still be non-deterministic.
- CUDA runs under ``torch.autocast`` (bfloat16 where supported, else float16 with a grad scaler).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from mlfactory.adapters.views import MultiStreamView, WindowView
from mlfactory.errors import ConfigError, DataError

if TYPE_CHECKING:
    from mlfactory.models.sequence._base import SequenceParams

SequenceInput = WindowView | MultiStreamView


# ---------------------------------------------------------------------------------------------- runtime


def resolve_device(name: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; ``"cuda"`` without a GPU is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device: 'cuda' requested but torch sees no CUDA GPU; use device=auto or device=cpu"
        )
    return torch.device(name)


def resolve_threads(n_jobs: int) -> int:
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise ConfigError(f"n_jobs: {n_jobs} is invalid; use a positive thread count or -1 for all cores")
    return n_jobs


@contextlib.contextmanager
def torch_runtime(n_jobs: int, seed: int | None = None, device: torch.device | None = None) -> Iterator[None]:
    """Limit torch's intra-op threads to ``n_jobs`` and, with a ``seed``, seed a forked RNG.

    Thread count, global RNG state and the deterministic-algorithms flag are restored on exit.
    """
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    wanted = resolve_threads(n_jobs)
    if wanted != threads:  # resizing the pool is not free: a live predict calls this per bar
        torch.set_num_threads(wanted)
    cuda = device is not None and device.type == "cuda"
    try:
        if seed is None:
            yield
            return
        with torch.random.fork_rng(devices=[device] if cuda else [], device_type="cuda"):
            torch.manual_seed(seed)
            if not cuda:
                torch.use_deterministic_algorithms(True)
            yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


# ---------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class FeatureScaler:
    """Per-stream, per-feature mean and std over the rows the training windows cover."""

    mean: np.ndarray  # (S, F) float32
    std: np.ndarray  # (S, F) float32

    @classmethod
    def fit(cls, x: SequenceInput) -> FeatureScaler:
        means, stds = [], []
        for stream in _streams(x):
            mean, std = _covered_mean_std(stream)
            means.append(mean)
            stds.append(np.where(std > 1e-12, std, 1.0))
        return cls(np.asarray(means, dtype=np.float32), np.asarray(stds, dtype=np.float32))

    def transform(self, batch: np.ndarray) -> np.ndarray:
        """Standardise a ``(B, L, F)`` or ``(B, S, L, F)`` batch."""
        if batch.ndim == 3:
            return (batch - self.mean[0]) / self.std[0]
        return (batch - self.mean[None, :, None, :]) / self.std[None, :, None, :]


def _covered_mean_std(view: WindowView, chunk: int = 32_768) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (two passes, float64, chunks of rows: no full float64 copy) of the covered rows."""
    covered = covered_rows(view)
    n = int(covered.sum())
    chunks = [(a, covered[a : a + chunk]) for a in range(0, len(covered), chunk)]
    total = np.zeros(view.n_features)
    for a, mask in chunks:
        rows = view.values[a : a + len(mask)][mask].astype(np.float64)
        if not np.isfinite(rows).all():
            col = int(np.flatnonzero(~np.isfinite(rows).all(axis=0))[0])
            raise DataError(
                f"training windows hold non-finite values in feature {view.feature_names[col]!r}; "
                "build the view with mlfactory.adapters.windows (it drops such windows) or clean the features"
            )
        total += rows.sum(axis=0)
    mean = total / n
    squares = np.zeros(view.n_features)
    for a, mask in chunks:
        squares += ((view.values[a : a + len(mask)][mask] - mean) ** 2).sum(axis=0)
    return mean, np.sqrt(squares / n)


def covered_rows(view: WindowView) -> np.ndarray:
    """Boolean mask of the rows of ``view.values`` that fall in at least one of its windows."""
    n_rows = view.values.shape[0]
    delta = np.bincount(view.ends - view.seq_len + 1, minlength=n_rows + 1)[: n_rows + 1]
    delta = delta - np.bincount(view.ends + 1, minlength=n_rows + 1)[: n_rows + 1]
    return np.cumsum(delta)[:n_rows] > 0


def _streams(x: SequenceInput) -> tuple[WindowView, ...]:
    return x.streams if isinstance(x, MultiStreamView) else (x,)


def balanced_class_factors(codes: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Factors (one per class code 0..2) ``W / (k · W_c)`` over the k classes present; 0 for absent ones."""
    totals = np.bincount(codes, weights=w, minlength=3)
    present = totals > 0
    factors = np.zeros(3)
    factors[present] = totals.sum() / (present.sum() * totals[present])
    return factors


@dataclass(frozen=True)
class Batches:
    """A view plus per-window targets and loss weights, materialised batch by batch."""

    x: SequenceInput
    scaler: FeatureScaler
    codes: np.ndarray | None = None  # (n,) int64 in 0..2
    weights: np.ndarray | None = None  # (n,) float32

    def __len__(self) -> int:
        return len(self.x)

    def inputs(self, idx: np.ndarray, device: torch.device) -> torch.Tensor:
        batch = self.scaler.transform(self.x.take(idx))
        if not np.isfinite(batch).all():
            bad = idx[~np.isfinite(batch).reshape(len(idx), -1).all(axis=1)][0]
            raise DataError(
                f"the window of decision {int(self.x.timestamps[bad])} (ns) holds non-finite values; "
                "build views with mlfactory.adapters.windows, which drops such windows"
            )
        return torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(device, non_blocking=True)

    def targets(self, idx: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.codes is not None and self.weights is not None
        return (torch.from_numpy(self.codes[idx]).to(device), torch.from_numpy(self.weights[idx]).to(device))


def index_batches(n: int, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Split ``0..n-1`` (shuffled when ``rng``) into ~equal batches of at most ``batch_size``.

    Equal splitting avoids a trailing batch of one window, which batch norm cannot train on.
    """
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return np.array_split(order, max(1, math.ceil(n / batch_size))) if n else []


# ---------------------------------------------------------------------------------------------- loop


def _autocast(device: torch.device, enabled: bool) -> tuple[Any, torch.amp.GradScaler | None]:
    if device.type != "cuda" or not enabled:
        return contextlib.nullcontext, None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return (lambda: torch.autocast("cuda", dtype=dtype)), scaler


def _scheduler(opt: torch.optim.Optimizer, params: SequenceParams, total_steps: int) -> Any:
    if params.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=params.lr, total_steps=max(total_steps, 1))
    if params.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total_steps, 1))
    return None


def weighted_loss(
    module: nn.Module, data: Batches, device: torch.device, batch_size: int, amp: bool
) -> float:
    """Weighted mean cross-entropy of ``module`` on ``data`` (eval mode)."""
    autocast, _ = _autocast(device, amp)
    module.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    for idx in index_batches(len(data), batch_size):
        y, w = data.targets(idx, device)
        with torch.inference_mode(), autocast():
            logits = module(data.inputs(idx, device))
        ce = nn.functional.cross_entropy(logits.float(), y, reduction="none")
        total += (ce * w).sum().double()
    return float(total) / float(data.weights.sum())  # type: ignore[union-attr]


def train_module(
    module: nn.Module,
    train: Batches,
    val: Batches | None,
    params: SequenceParams,
    device: torch.device,
    seed: int,
    label: str,
) -> dict[str, Any]:
    """Train ``module`` in place; return the history (losses per epoch, best epoch, stop reason)."""
    module.to(device)
    opt = torch.optim.AdamW(module.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    steps_per_epoch = len(index_batches(len(train), params.batch_size))
    sched = _scheduler(opt, params, steps_per_epoch * params.epochs)
    autocast, grad_scaler = _autocast(device, params.amp)
    rng = np.random.default_rng(seed)
    eval_bs = params.batch_size * 2
    history: dict[str, Any] = {"train_loss": [], "val_loss": [], "best_epoch": None, "stopped": "max_epochs"}
    best_loss, best_state, bad_epochs = math.inf, None, 0
    with _progress(label, params.epochs, params.progress) as advance:
        for epoch in range(params.epochs):
            module.train()
            running, seen = 0.0, 0
            for idx in index_batches(len(train), params.batch_size, rng):
                xb = train.inputs(idx, device)
                y, w = train.targets(idx, device)
                with autocast():
                    logits = module(xb)
                loss = (nn.functional.cross_entropy(logits.float(), y, reduction="none") * w).mean()
                if not torch.isfinite(loss):
                    raise ConfigError(
                        f"{label}: training loss became {float(loss)} at epoch {epoch + 1}; "
                        "lower lr or grad_clip, or check the features for extreme values"
                    )
                opt.zero_grad(set_to_none=True)
                if grad_scaler is not None:
                    grad_scaler.scale(loss).backward()
                    grad_scaler.unscale_(opt)
                else:
                    loss.backward()
                if params.grad_clip > 0:
                    nn.utils.clip_grad_norm_(module.parameters(), params.grad_clip)
                if grad_scaler is not None:
                    grad_scaler.step(opt)
                    grad_scaler.update()
                else:
                    opt.step()
                if sched is not None:
                    sched.step()
                running += float(loss.detach()) * len(idx)
                seen += len(idx)
            history["train_loss"].append(running / max(seen, 1))
            if val is None:
                advance(epoch, history["train_loss"][-1], None)
                continue
            vloss = weighted_loss(module, val, device, eval_bs, params.amp)
            history["val_loss"].append(vloss)
            advance(epoch, history["train_loss"][-1], vloss)
            if vloss < best_loss - 1e-6:
                best_loss, bad_epochs = vloss, 0
                history["best_epoch"] = epoch + 1
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                bad_epochs += 1
                if bad_epochs >= params.patience:
                    history["stopped"] = "early_stopping"
                    break
    if best_state is not None:
        module.load_state_dict(best_state)
    history["epochs_run"] = len(history["train_loss"])
    module.eval()
    return history


def predict_softmax(
    module: nn.Module, data: Batches, device: torch.device, batch_size: int, amp: bool
) -> np.ndarray:
    """``(n, 3)`` softmax probabilities, in the view's order."""
    autocast, _ = _autocast(device, amp)
    first = next(module.parameters(), None)
    on_device = first is not None and first.device.type == device.type
    if not on_device or (device.index is not None and first.device.index != device.index):
        module.to(
            device
        )  # moving a module walks every tensor: only when it is elsewhere ("cuda" is cuda:0's type)
    if module.training:
        module.eval()
    out = np.empty((len(data), 3), dtype=np.float64)
    for idx in index_batches(len(data), batch_size):
        with torch.inference_mode(), autocast():
            logits = module(data.inputs(idx, device))
        out[idx] = torch.softmax(logits.float(), dim=-1).double().cpu().numpy()
    return out


@contextlib.contextmanager
def _progress(label: str, epochs: int, enabled: bool) -> Iterator[Any]:
    """An epoch bar on stderr (rich); a no-op when disabled or stderr is not a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield lambda *_: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, TextColumn("{task.fields[losses]}"), console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=epochs, losses="")

        def advance(epoch: int, train_loss: float, val_loss: float | None) -> None:
            text = f"train {train_loss:.4f}" + ("" if val_loss is None else f"  val {val_loss:.4f}")
            bar.update(task, completed=epoch + 1, losses=text)

        yield advance
