"""What every backend of the spiking network implements: the :class:`Backend` protocol.

The numpy reference and the cpu backend (backends.py) and the cuda backend (cuda.py) implement it,
and SpikingNetwork uses nothing else of them. A backend runs any range of steps (``run``), finds
NaN/inf (``nonfinite``, ``weights_nonfinite``), moves the network's arrays between host and
device (``to_device``/``to_host``: no-ops on the host backends, where the host arrays are the
state), holds the learning rate in use (``eta``, ``set_eta``) and says what a step of S streams
runs (``describe``: its kernel, threads, BLAS products and whether its compiled code came from a
cache), which is what ``spikefa bench spiking`` reports and times.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from .codes import READOUT_SPIKES
from .state import StreamState


class Product(NamedTuple):
    """One BLAS product of a step: C (m x n) <- alpha op(A) op(B) + beta C, every operand
    Fortran-ordered; op(A) = A (m x k), or A^T of a (k x m) A when ``trans_a``; op(B) = B (k x n),
    or B^T of a (n x k) B when ``trans_b``."""

    job: str            # "forward", "feedback" or "plasticity"
    layer: int          # h = 0..L-1: the layer whose arrays it writes
    m: int
    n: int
    k: int
    trans_b: bool
    beta: float         # 0: C is overwritten; 1: accumulated into (plasticity)
    trans_a: bool = False


class StepInfo(NamedTuple):
    """What a backend runs for one step of S streams (``Backend.describe``)."""

    kernel: str               # "numpy", "spike-rows", "gemm" or "cuda"
    threads: str | None       # how its threads are chosen ("rows/2", "gemm/blas"); None: not by spikefa
    products: tuple           # the Product of one learning step, in order; () for kernels without BLAS
    first_call: str           # "cache" (compiled code loaded from Numba's cache), "compiled", "jit"
                              # (cuda: compiled at first launch), "-" (nothing compiled) or "not run"


@runtime_checkable
class Backend(Protocol):
    """The interface of a backend (see the module docstring); ``learn``: plasticity on;
    ``purpose``: codes.PURPOSE_*; ``readout``: codes.READOUT_*; ``fresh``: V = U = 0 at the first
    step of each image. The arguments of ``run`` are those of reference.run_steps."""

    name: str
    eta: float          # the learning rate in use (params.eta until set_eta)

    def set_eta(self, eta: float) -> None: ...

    def to_device(self, state: StreamState) -> Any: ...

    def to_host(self, state: StreamState, device_state: Any) -> None: ...

    def run(self, state: Any, X: np.ndarray, order: np.ndarray, labels: np.ndarray, counts: np.ndarray,
            seq0: int, n_steps: int, steps_per_image: int, t0: int, learn: bool, purpose: int,
            readout: int = READOUT_SPIKES, fresh: bool = False, settle: bool = True, samples=None) -> None:
        """``settle`` False: the block's last plasticity change may be held over to the next
        training block of the same streams (only observers that read no weights run in between);
        ``settle_plasticity`` makes it. ``samples`` (bundles.Samples): state values to copy after
        each step, given only where ``takes_samples``."""
        ...

    def takes_samples(self, streams: int) -> bool:
        """Whether ``run`` copies recorders' samples inside its compiled blocks of ``streams``
        streams (record/compiled.py); elsewhere recorders observe the state after each step."""
        ...

    def settle_plasticity(self, state: Any) -> None:
        """Make any plasticity change a block run with settle=False held over (a no-op when none is)."""
        ...

    def nonfinite(self, state: Any) -> tuple[str, int] | None:
        """(variable, layer l = 1..L) of the first NaN/inf in V or U, or None."""
        ...

    def weights_nonfinite(self) -> int | None:
        """The first layer l = 1..L whose weights or biases hold NaN/inf, or None."""
        ...

    def describe(self, streams: int) -> StepInfo: ...

    def weights_changed(self) -> None:
        """The network's weight arrays were written in place (load_state_dict): renew any copy of
        them the backend keeps in another form. Backends that read the arrays as they are do nothing."""


MEMBERS = ("name", "eta", "set_eta", "to_device", "to_host", "run", "nonfinite", "weights_nonfinite", "describe",
           "weights_changed", "takes_samples")
