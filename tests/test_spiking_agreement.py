"""Every backend agrees with the numpy reference (the specification) step by step: identical spikes
(in spiking mode), every variable and weight within float32 rounding, for the same seed.

One table of cases over every compiled target: the cpu backend's spike-rows kernel (cpu.py), its
gemm kernel (gemm.py, many streams, weights stored Fortran- or C-ordered) and the cuda backend
(cuda.py), under Numba's CUDA simulator in a subprocess (it must be set before numba is imported;
tiny networks: the simulator runs every GPU thread as a Python thread), and on a real GPU where
SPIKEFA_GPU_TESTS=1 (scripts/device_check.sh).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from spikefa.spiking import SpikingNetwork, SpikingParams

SMALL = dict(sizes=(20, 16, 12, 10), units_per_class=2, eta=0.05, gamma=1e-3, init_scale=0.3,
             feedback_scale=0.5, test_streams=4)
TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
GPU = os.environ.get("SPIKEFA_GPU_TESTS") == "1"


def data(n=40, n_in=20, classes=5, seed=0):
    r = np.random.default_rng(seed)
    return r.random((n, n_in)).astype(np.float32), r.integers(0, classes, n)


class Trace:
    """Observer keeping every variable of every layer at every step (host copies, also of device arrays)."""

    def __init__(self):
        self.steps, self.rows = [], []

    def on_step(self, net):
        L = net.params.n_layers
        row = {("spikes", 0): np.array(net.layer_state("spikes", 0, stream=None))}
        for layer in range(1, L + 1):
            for var in ("spikes", "V", "U", "mod"):
                row[(var, layer)] = np.array(net.layer_state(var, layer, stream=None))
        self.steps.append(net.step)
        self.rows.append(row)


def build(backend, kernel="auto", layout="F", **kw):
    """A SMALL network on ``backend``; for the gemm kernel, weights stored as ``layout`` orders them."""
    params = {**SMALL, **kw, "backend": backend}
    if kernel != "auto":
        params["cpu_kernel"] = kernel
    net = SpikingNetwork(SpikingParams(**params))
    if kernel == "gemm":
        assert net.weights.WT[1].flags.f_contiguous and not net.weights.WT[1].flags.c_contiguous
        if layout == "C":
            c_ordered(net)
    return net


def c_ordered(net):
    """Store the weights row-major again: the layout the gemm kernel meets after spike-rows training."""
    w = net.weights
    for h in range(len(w.WT)):
        w.WT[h] = np.ascontiguousarray(w.WT[h])
        if w.maskT[h] is not None:
            w.maskT[h] = np.ascontiguousarray(w.maskT[h])


def run_traced(backend, n_images=40, kernel="auto", layout="F", **kw):
    net = build(backend, kernel, layout, **kw)
    trace = Trace()
    net.add_observer(trace)
    X, y = data()
    net.train(X, y, n_images)
    return net, trace


def assert_same_run(ref, ref_trace, net, trace, rate: bool, n_images: int = 40):
    """Identical spikes (in spiking mode), and every variable and weight within float32 rounding."""
    steps = -(-n_images // ref.params.streams) * ref.params.steps_per_image
    assert ref_trace.steps == trace.steps == list(range(1, steps + 1))
    for t, (a, b) in enumerate(zip(ref_trace.rows, trace.rows)):
        for key in a:
            if key[0] == "spikes" and not rate:
                assert np.array_equal(a[key], b[key]), f"spikes of layer {key[1]} differ at step {t + 1}"
            else:
                np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=2e-5, err_msg=f"{key} at step {t + 1}")
    for layer in range(1, ref.params.n_layers + 1):
        np.testing.assert_allclose(ref.W[layer], net.W[layer], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(ref.b[layer], net.b[layer], rtol=1e-4, atol=1e-6)
    assert ref.step == net.step and ref.images_seen == net.images_seen


def check_case(target: str, kw: dict, n_images: int = 40, predict: int = 24) -> None:
    """Train the numpy reference and ``target`` ("spike-rows", "gemm", "cuda") side by side; assert
    they agree step by step, that learning happened (and where it must not, it did not), and that
    they guess the same classes for ``predict`` test images."""
    kw = dict(kw)
    layout = kw.pop("layout", "F")
    backend, kernel = ("cuda", "auto") if target == "cuda" else ("cpu", target)
    ref, ref_trace = run_traced("numpy", n_images, **kw)
    net, trace = run_traced(backend, n_images, kernel, layout, **kw)
    if backend == "cpu":
        assert net.backend.kernel_for(net.params.streams) == kernel
    assert_same_run(ref, ref_trace, net, trace, kw.get("mode") == "rate", n_images)
    fresh = SpikingNetwork(SpikingParams(**{**SMALL, **kw}))
    L = ref.params.n_layers
    assert not np.allclose(net.W[L], fresh.W[L])                       # learning happened
    if kw.get("sparse"):                                               # masked synapses stayed removed
        for layer in range(1, L + 1):
            assert np.all(net.W[layer][~net.masks[layer]] == 0)
    if kw.get("feedback") == "none":                                   # hidden layers did not learn
        for layer in range(1, L):
            assert np.array_equal(net.W[layer], fresh.W[layer])
    if predict:
        X_test = data(n=24, seed=5)[0][:predict]
        assert np.array_equal(ref.predict(X_test), net.predict(X_test))


# (target, network, training images, test images predicted); the cuda cases are tiny (simulator)
CASES = [
    ("spike-rows", dict(feedback="fa"), 40, 24),
    ("spike-rows", dict(feedback="bp", streams=5), 40, 24),
    ("spike-rows", dict(feedback="direct", sparse=0.4), 40, 24),
    ("spike-rows", dict(feedback="none", phi="linear"), 40, 24),
    ("spike-rows", dict(feedback="fa", mode="rate", streams=2), 40, 24),
    ("gemm", dict(feedback="fa", streams=8), 40, 24),
    ("gemm", dict(feedback="bp", streams=9), 40, 24),
    ("gemm", dict(feedback="direct", sparse=0.4, streams=8), 40, 24),
    ("gemm", dict(feedback="none", phi="linear", streams=8), 40, 24),
    ("gemm", dict(feedback="fa", mode="rate", streams=8), 40, 24),
    ("gemm", dict(feedback="bp", streams=8, layout="C"), 40, 24),
    ("gemm", dict(feedback="fa", sparse=0.3, streams=8, layout="C"), 40, 24),
    ("spike-rows", dict(feedback="fa", feedback_dtype="bfloat16"), 40, 24),
    ("spike-rows", dict(feedback="direct", sparse=0.4, streams=5, feedback_dtype="bfloat16"), 40, 24),
    ("gemm", dict(feedback="fa", streams=8, feedback_dtype="bfloat16"), 40, 24),
    ("gemm", dict(feedback="fa", streams=8, threads=2), 40, 24),
    ("gemm", dict(feedback="bp", mode="rate", streams=9, threads=2), 40, 24),
    ("cuda", dict(feedback="fa", sparse=0.3), 4, 4),
    ("cuda", dict(feedback="bp", streams=2), 2, 0),
    ("cuda", dict(feedback="direct", mode="rate", steps_per_image=3), 2, 0),
    ("cuda", dict(feedback="fa", feedback_dtype="bfloat16"), 2, 0),
]
IDS = ["rows-fa", "rows-bp-5streams", "rows-direct-sparse", "rows-shallow-linear", "rows-rate-2streams",
       "gemm-fa", "gemm-bp-9streams", "gemm-direct-sparse", "gemm-shallow-linear", "gemm-rate", "gemm-bp-row-major",
       "gemm-fa-sparse-row-major", "rows-fa-bf16", "rows-direct-sparse-5streams-bf16", "gemm-fa-bf16",
       "gemm-fa-2threads", "gemm-bp-rate-9streams-2threads",
       "cuda-fa-sparse", "cuda-bp-2streams", "cuda-direct-rate",
       "cuda-fa-bf16"]
CUDA_CASES = [case for case in CASES if case[0] == "cuda"]


def run_cuda_case(case, simulator: bool) -> None:
    """``check_case`` for a cuda case in a fresh interpreter: under Numba's simulator or on the GPU."""
    code = ("import sys, warnings\n"
            "warnings.simplefilter('ignore')   # uint64 wrap-around in the simulated hash is intended\n"
            f"sys.path.insert(0, {TESTS!r})\n"
            "import test_spiking_agreement as t\n"
            f"t.check_case(*{case!r})\n"
            "print('agree')\n")
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1" if simulator else "0"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "agree" in result.stdout


@pytest.mark.parametrize("target, kw, n_images, predict", CASES, ids=IDS)
def test_matches_numpy_step_by_step(target, kw, n_images, predict):
    if target == "cuda":
        run_cuda_case((target, kw, n_images, predict), simulator=True)
    else:
        check_case(target, kw, n_images, predict)


# spike-rows keeps a step's plasticity over to the next step's forward pass within a block (cpu.py);
# a traced run cuts blocks at every step, so these run whole blocks: no observer, many steps each
WHOLE_BLOCKS = [dict(feedback="fa"), dict(feedback="bp", streams=5), dict(feedback="direct", sparse=0.4),
                dict(feedback="fa", mode="rate", streams=2), dict(feedback="fa", gamma=0.01),
                dict(feedback="fa", streams=3, threads=2, feedback_dtype="bfloat16")]


@pytest.mark.parametrize("kw", WHOLE_BLOCKS, ids=["fa", "bp-5streams", "direct-sparse", "rate-2streams",
                                                   "fa-folds", "fa-3streams-2threads-bf16"])
def test_spike_rows_in_whole_blocks_match_numpy(kw):
    """The same weights, biases and last state as the reference after 120 images run in blocks of
    many steps (with gamma = 0.01 the decay is folded into the weights every ~70 steps)."""
    X, y = data(n=40)
    nets = [build(backend, kernel, **kw) for backend, kernel in (("numpy", "auto"), ("cpu", "spike-rows"))]
    for net in nets:
        net.train(X, y, 120)
    ref, net = nets
    assert net.backend.kernel_for(net.params.streams) == "spike-rows" and net.step == ref.step
    for layer in range(1, ref.params.n_layers + 1):
        np.testing.assert_allclose(ref.W[layer], net.W[layer], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(ref.b[layer], net.b[layer], rtol=1e-4, atol=1e-6)
        for var in ("spikes", "V", "U"):
            a, b = ref.layer_state(var, layer, stream=None), net.layer_state(var, layer, stream=None)
            if var == "spikes" and kw.get("mode") != "rate":
                assert np.array_equal(a, b), f"spikes of layer {layer} differ after {ref.step} steps"
            else:
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
    if kw.get("gamma"):
        assert net.weights.scale[0] > 0.5     # folded at least once: (1 - 0.01) ** 600 would be 0.0024


@pytest.mark.skipif(not GPU, reason="needs an NVIDIA GPU (SPIKEFA_GPU_TESTS=1)")
@pytest.mark.parametrize("case", CUDA_CASES, ids=[i for i, c in zip(IDS, CASES) if c[0] == "cuda"])
def test_real_gpu_matches_numpy_step_by_step(case):
    run_cuda_case(case, simulator=False)


def test_bfloat16_feedback_is_b_rounded_and_the_cpu_kernel_reads_16_bits():
    """feedback_dtype = "bfloat16" draws the same B rounded to bfloat16 (nearest, ties to even) on
    every backend; spike-rows reads only the high 16 bits, and renews them when a state is loaded."""
    from spikefa.spiking.bfloat16 import as_float32, high_bits, round_to_bfloat16

    x = np.array([1.0, 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, 1.0 + 2 ** -9, 1.0 + 3 * 2 ** -9, -0.1, 0.0], np.float32)
    r = round_to_bfloat16(x)
    # bfloat16 keeps 7 bits of mantissa: its neighbours of 1 are 1 + 2^-7 apart
    assert r[0] == 1.0 and r[1] == 1.0                              # half way: ties to the even neighbour
    assert r[2] == np.float32(1.0 + 2 ** -6)                        # half way above an odd one: up to even
    assert r[3] == 1.0 and r[4] == np.float32(1.0 + 2 ** -7)        # below half way / above it
    assert np.all(r.view(np.uint32) & 0xFFFF == 0) and np.all(np.abs(r - x) <= np.abs(x) * 2 ** -8)
    assert [as_float32(b) for b in high_bits(r)] == list(r)
    plain, rounded = build("numpy"), build("cpu", feedback_dtype="bfloat16")
    for B, Br in zip(plain.weights.B, rounded.weights.B):
        assert Br.dtype == np.float32 and np.array_equal(Br, round_to_bfloat16(B))
    stored = rounded.backend.layers().B
    assert all(b.dtype == np.uint16 for b in stored)
    assert all(np.array_equal(high_bits(B), b) for B, b in zip(rounded.weights.B, stored))
    other = build("cpu", feedback_dtype="bfloat16", seed=7)
    rounded.load_state_dict(other.state_dict())
    assert all(np.array_equal(high_bits(B), b) for B, b in zip(other.weights.B, rounded.backend.layers().B))
