"""What the feature registry needs to know about a kernel: its array inputs and its warm-up rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

KernelOutput = np.ndarray | dict[str, np.ndarray]

# Names of the array arguments a kernel takes, in call order. Bar columns are named after the
# column; ``x`` / ``y`` mean "any series the caller chooses" (a log price, a return, another kernel).
BAR_INPUTS = frozenset({"open", "high", "low", "close", "volume", "x", "y"})


@dataclass(frozen=True)
class Kernel:
    """A causal array kernel.

    ``func(*arrays, **params)`` returns one float64 array (or, when ``multi_output``, a dict of
    them) as long as the inputs. ``warmup(**params)`` is the number of leading bars that are NaN
    on finite inputs; every later value is finite unless the kernel's docstring says otherwise.
    ``warmup`` accepts the same keyword parameters as ``func`` (unused ones are ignored).
    """

    name: str
    func: Callable[..., KernelOutput]
    inputs: tuple[str, ...]
    warmup: Callable[..., int]
    multi_output: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.inputs) - BAR_INPUTS
        if unknown:
            raise ValueError(f"kernel {self.name}: unknown input names {sorted(unknown)}")

    def __call__(self, *arrays: np.ndarray, **params: object) -> KernelOutput:
        return self.func(*arrays, **params)
