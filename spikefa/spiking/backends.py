"""The numpy and cpu backends of protocol.Backend; cuda lives in cuda.py (imported on demand).

A backend runs a block of steps on a StreamState (``run``), finds NaN/inf in the state
(``nonfinite``), says what a step runs (``describe``), and for cuda moves the network's arrays
between host and device (``to_device``/``to_host``; no-ops here, where the host arrays are the
state). The cpu backend hands its kernels the typed bundles of bundles.py.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from . import bfloat16, bundles, reference
from .codes import READOUT_SPIKES
from .params import SpikingParams
from .protocol import Backend, StepInfo
from .state import StreamState, Weights


class NumpyBackend(Backend):
    """The reference: readable numpy, one step at a time."""

    name = "numpy"

    def __init__(self, params: SpikingParams, weights: Weights):
        self.params = params
        self.weights = weights
        self.eta = float(params.eta)    # the learning rate now: params.eta until a schedule changes it

    def set_eta(self, eta: float) -> None:
        self.eta = float(eta)

    def to_device(self, state: StreamState):
        return state

    def weights_changed(self) -> None:
        """Nothing to renew: the reference reads the weight arrays as they are."""

    def to_host(self, state: StreamState, device_state) -> None:
        pass

    def run(self, state, X, order, labels, counts, seq0, n_steps, steps_per_image, t0, learn, purpose,
            readout=READOUT_SPIKES, fresh=False, settle=True, samples=None):
        """``readout``: what the votes add up (codes.READOUT_*: spikes, sigma(V_L), V_L); ``fresh``:
        V = U = 0 at the first step of each image (reference.run_steps); ``settle``: the reference
        makes every change in its step, so it has nothing to hold over; ``samples``: the reference
        takes none (recorders observe it after each step they sample: the specification)."""
        if samples is not None:
            raise ValueError("the numpy reference takes no samples inside its blocks (takes_samples)")
        reference.run_steps(self.params, self.weights, state, X, order, labels, counts, seq0, n_steps,
                            steps_per_image, t0, learn, purpose, readout, fresh, self.eta)

    def settle_plasticity(self, state) -> None:
        """Nothing is ever held over here."""

    def takes_samples(self, streams: int) -> bool:
        return False

    def nonfinite(self, state) -> tuple[str, int] | None:
        """(variable, layer l = 1..L) of the first NaN/inf in V or U, or None."""
        for var, group in (("V", state.V), ("U", state.U)):
            for h, a in enumerate(group):
                if not np.isfinite(a).all():
                    return var, h + 1
        return None

    def weights_nonfinite(self) -> int | None:
        for h, WT in enumerate(self.weights.WT):
            if not (np.isfinite(WT).all() and np.isfinite(self.weights.b[h]).all()):
                return h + 1
        return None

    def describe(self, streams: int) -> StepInfo:
        return StepInfo(kernel="numpy", threads=None, products=(), first_call="-")


# below these, skipping the rows of silent presynaptic units (cpu.py) beats dense BLAS products
GEMM_MIN_STREAMS = 8
GEMM_MIN_WEIGHTS = 100_000


class CpuBackend(NumpyBackend):
    """Numba-compiled kernels on the host arrays: spike-rows (cpu.py) or gemm (gemm.py), by streams."""

    name = "cpu"

    def __init__(self, params: SpikingParams, weights: Weights):
        super().__init__(params, weights)
        from . import cpu, host  # compiles (or loads from cache) on first use only

        self.kernels, self.host = cpu, host
        p, w, L = params, weights, params.n_layers
        # always L-1 entries (at least one) so that every feedback pathway of one depth shares a compilation
        self.B = self._feedback_arrays(np.float32)
        self.B_stored = self.B               # what spike-rows reads: bfloat16 bits when params ask for them
        self.weights_changed()
        self.use_mask = any(m is not None for m in w.maskT)
        self._dummy_mask = (np.zeros((1, 1), dtype=bool),) * L
        self._gemm = self._blas = None
        self._pending = {}
        self.set_eta(p.eta)
        if self.kernel_for(p.streams) == "gemm":
            # training runs the gemm kernel: store WT Fortran-ordered (W row-major), the layout its
            # BLAS products run fastest on (gemm.py). Only spike-rows needs C order, and it is not used.
            for h in range(L):
                w.WT[h] = np.asfortranarray(w.WT[h])
                if w.maskT[h] is not None:
                    w.maskT[h] = np.asfortranarray(w.maskT[h])

    def set_eta(self, eta: float) -> None:
        self.eta = float(eta)
        self.options = bundles.options(self.params, self.eta)

    def to_device(self, state: StreamState):
        """The state the step runs on: for the gemm kernel a streams-last copy (gemm.py), kept
        for the whole train or test call, so that its blocks do not convert the state each time."""
        if self.kernel_for(state.streams) != "gemm":
            return state
        return self._gemm_step().streams_last_state(state)

    def to_host(self, state: StreamState, device_state) -> None:
        if device_state is not state:
            state.copy_from(device_state)

    def _feedback_arrays(self, dtype) -> tuple:
        dummy = np.zeros((1, 1), dtype=dtype)
        if dtype == np.uint16:
            return tuple(dummy if B is None else bfloat16.high_bits(B) for B in self.weights.B) or (dummy,)
        return tuple(dummy if B is None else B for B in self.weights.B) or (dummy,)

    def weights_changed(self) -> None:
        """B was written (load_state_dict): renew the 16-bit copy spike-rows reads."""
        if self.params.feedback_dtype == "bfloat16":
            self.B_stored = self._feedback_arrays(np.uint16)

    def layers(self) -> bundles.Layers:
        """The weights as the kernels take them (built per call: a layout change replaces WT's arrays)."""
        w = self.weights
        return bundles.layers(w, self.B_stored, tuple(w.maskT) if self.use_mask else self._dummy_mask,
                              self.use_mask)

    def kernel_for(self, streams: int) -> str:
        """"gemm" or "spike-rows": params.cpu_kernel, or automatically gemm where the products have
        enough arithmetic for BLAS to beat skipping silent rows (many streams, large layers), and
        always gemm once the weights are stored for it."""
        if self.params.cpu_kernel != "auto":
            return self.params.cpu_kernel
        if self.weights.WT[0].flags.f_contiguous and not self.weights.WT[0].flags.c_contiguous:
            return "gemm"
        largest = max(WT.size for WT in self.weights.WT)
        return "gemm" if streams >= GEMM_MIN_STREAMS and largest >= GEMM_MIN_WEIGHTS else "spike-rows"

    def threads_for(self, streams: int) -> int:
        """params.threads, or automatically: every core only when a kernel call has milliseconds of
        work (several streams on a large network); waking threads costs more than short kernels gain."""
        import numba

        cores = numba.config.NUMBA_NUM_THREADS
        if self.params.threads:
            return max(1, min(self.params.threads, cores))
        largest = max(WT.size for WT in self.weights.WT)
        return cores if streams >= 4 and largest >= 1_000_000 else 1

    def run(self, state, X, order, labels, counts, seq0, n_steps, steps_per_image, t0, learn, purpose,
            readout=READOUT_SPIKES, fresh=False, settle=True, samples=None):
        inputs = bundles.Inputs(X, order, labels, counts)
        block = bundles.block(seq0, n_steps, steps_per_image, t0, learn, purpose, readout, fresh, settle)
        if self.kernel_for(state.streams) == "gemm":
            if samples is not None:
                raise ValueError("the gemm kernel takes no samples inside its blocks (takes_samples)")
            with self._blas_threads():
                self._gemm_step().run(state, inputs, block, self.options)
            return
        kernels, threads = self._spike_rows(state.streams)
        kernels.run_steps(inputs, block, self.options, self.layers(), bundles.streams(state),
                          self._held(state.streams), threads, bundles.NO_SAMPLES if samples is None else samples)

    def takes_samples(self, streams: int) -> bool:
        """Spike-rows copies what recorders sample inside its compiled blocks (record/compiled.py)."""
        return self.kernel_for(streams) == "spike-rows"

    def settle_plasticity(self, state) -> None:
        """Make the change spike-rows held over from a block run with settle=False (cpu.py)."""
        held = self._pending.get(state.streams)
        if held is None or not held.due.any():
            return
        kernels, threads = self._spike_rows(state.streams)
        kernels.settle(self.layers(), bundles.streams(state), held, threads)

    def _spike_rows(self, streams: int):
        """spike-rows' build for ``streams`` streams (cpu.serial or cpu.parallel, Numba's threads set
        for it) and its thread count."""
        import numba

        threads = self.threads_for(streams)
        if threads == 1:
            return self.kernels.serial, 1
        numba.set_num_threads(threads)
        return self.kernels.parallel, threads

    def _held(self, streams: int) -> bundles.Pending:
        """Where spike-rows keeps a step's plasticity for the next step's forward pass (cpu.py)."""
        if streams not in self._pending:
            self._pending[streams] = bundles.pending(self.params.sizes, streams)
        return self._pending[streams]

    def _gemm_step(self):
        if self._gemm is None:
            from .gemm import GemmStep

            self._gemm = GemmStep(self.params, self.weights, self.B)
        return self._gemm

    def _blas_threads(self):
        """params.threads caps BLAS's threads for the gemm kernel (0: BLAS's own default)."""
        if not self.params.threads:
            return contextlib.nullcontext()
        if self._blas is None:
            from threadpoolctl import ThreadpoolController

            self._blas = ThreadpoolController()
        return self._blas.limit(limits=int(self.params.threads), user_api="blas")

    def describe(self, streams: int) -> StepInfo:
        """The kernel S = ``streams`` streams run; gemm's BLAS products (gemm.step_products) and
        threads (OpenBLAS's: all cores unless OPENBLAS_NUM_THREADS or params.threads say otherwise);
        spike-rows' Numba threads."""
        if self.kernel_for(streams) == "gemm":
            from . import gemm

            threads = self.params.threads or os.environ.get("OPENBLAS_NUM_THREADS", "blas")
            products = gemm.step_products(self.params.sizes, streams, self.params.feedback,
                                          fortran=bool(self.weights.WT[0].flags.f_contiguous))
            return StepInfo("gemm", f"gemm/{threads}", products, _first_call(gemm.compiled_kernels()))
        threads = self.threads_for(streams)
        kernel = self.kernels.run_steps_serial if threads == 1 else self.kernels.run_steps_parallel
        return StepInfo("spike-rows", f"rows/{threads}", (), _first_call((kernel,)))

    def nonfinite(self, state):
        for var, group in (("V", state.V), ("U", state.U)):
            h = self.host.first_nonfinite(tuple(_rows_along_memory(a) for a in group))
            if h >= 0:
                return var, h + 1
        return None

    def weights_nonfinite(self):
        h = self.host.first_nonfinite(tuple(_rows_along_memory(a) for a in self.weights.WT))
        if h >= 0:
            return h + 1
        for h, b in enumerate(self.weights.b):
            if not np.isfinite(b).all():
                return h + 1
        return None


def _rows_along_memory(a: np.ndarray) -> np.ndarray:
    """``a``, or its transpose when ``a`` is Fortran-ordered: rows that run along memory, for a
    scan that does not care which axis is which (gemm keeps WT and the state Fortran-ordered)."""
    return a.T if a.flags.f_contiguous and not a.flags.c_contiguous else a


def _first_call(dispatchers) -> str:
    """"cache" when Numba loaded the compiled kernels from its cache, "compiled" when it compiled
    them in this process, "not run" before their first call."""
    if not any(d.signatures for d in dispatchers):
        return "not run"
    return "cache" if any(sum(d.stats.cache_hits.values()) for d in dispatchers) else "compiled"


def make_backend(params: SpikingParams, weights: Weights) -> Backend:
    if params.backend == "numpy":
        return NumpyBackend(params, weights)
    if params.backend == "cpu":
        return CpuBackend(params, weights)
    from .cuda import CudaBackend  # only here: CPU-only installs never import numba.cuda

    return CudaBackend(params, weights)
