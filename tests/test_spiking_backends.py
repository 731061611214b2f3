"""What every backend does alike: spikes are the counter-based draws, decay is lazy and exact, streams sum
their plasticity; every backend implements the Backend protocol and its scalars come from one core."""

import numpy as np
import pytest

from spikefa import rng
from spikefa.spiking import SpikingNetwork, SpikingParams

from test_spiking_agreement import SMALL, data, run_traced

# The step-by-step agreement of every backend with the numpy reference: test_spiking_agreement.py.


def test_spikes_are_the_counter_based_draws():
    net, trace = run_traced("cpu", n_images=4)
    X, _ = data()
    order = net.epoch_order(0, len(X))
    for t, row in enumerate(trace.rows):
        x = X[order[t // 5]]
        expected = rng.bernoulli(net.params.seed, t, rng.layer_key(0, 0, 0), np.minimum(x, np.float32(0.95)))
        assert np.array_equal(row[("spikes", 0)][0], expected)
    # hidden layer spikes at the last step: Bernoulli(sigma(V)) with this layer's key
    last = trace.rows[-1]
    p = 1 / (1 + np.exp(-last[("V", 1)][0].astype(np.float64)))
    u = rng.uniform(net.params.seed, len(trace.rows) - 1, rng.layer_key(1, 0, 0), np.arange(16))
    decided = np.abs(u - p) > 1e-5
    assert np.array_equal(last[("spikes", 1)][0][decided], (u < p)[decided].astype(np.float32))


def test_lazy_decay_equals_eager_decay():
    """gamma large enough to matter: W <- (1 - gamma) W + eta D s^T in both backends."""
    ref, _ = run_traced("numpy", n_images=20, gamma=0.02, eta=0.0)
    cpu, _ = run_traced("cpu", n_images=20, gamma=0.02, eta=0.0)
    fresh = SpikingNetwork(SpikingParams(**SMALL))
    for layer in range(1, 4):
        expected = fresh.W[layer] * (1 - 0.02) ** 100
        np.testing.assert_allclose(ref.W[layer], expected, rtol=1e-4)
        np.testing.assert_allclose(cpu.W[layer], expected, rtol=1e-5)


@pytest.mark.parametrize("backend, kernel", [("numpy", "auto"), ("cpu", "spike-rows"), ("cpu", "gemm")])
def test_decay_below_float32_resolution_is_not_lost(backend, kernel):
    """The paper's gamma = 1e-8 rounds away in float32 (W - 1e-8 W == W); the float64 scale keeps it."""
    net = SpikingNetwork(SpikingParams(**{**SMALL, "gamma": 1e-8, "eta": 0.0, "streams": 8, "backend": backend,
                                          "cpu_kernel": kernel}))
    before = [w.copy() for w in net.W[1:]]
    X, y = data()
    net.train(X, y, 80)                        # 50 learning steps
    assert np.all(net.weights.scale < 1.0)     # pending, until net.W folds it in
    for w0, w1 in zip(before, net.W[1:]):      # 5e-7 relative: a lost decay would fail rtol=1e-7
        np.testing.assert_allclose(w1, w0 * (1 - 1e-8) ** 50, rtol=1e-7)


def test_streams_sum_their_plasticity():
    """Rate mode is deterministic: two streams on the same image change W twice as much as one."""
    X = np.full((1, 20), 0.5, dtype=np.float32)
    y = np.array([3])
    changes = []
    for S in (1, 2):
        net = SpikingNetwork(SpikingParams(**{**SMALL, "mode": "rate", "streams": S, "steps_per_image": 1,
                                              "gamma": 0.0}))
        before = [w.copy() for w in net.W[1:]]
        net.train(X, y, S)
        changes.append([w - b for w, b in zip(net.W[1:], before)])
    for one, two in zip(*changes):
        np.testing.assert_allclose(two, 2 * one, rtol=1e-5, atol=1e-9)


def test_streams_take_different_images_and_count_them():
    net = SpikingNetwork(SpikingParams(**{**SMALL, "streams": 4}))
    seen = []

    class Seen:
        def on_step(self, n):
            seen.append(n.image_indices.copy())

    net.add_observer(Seen())
    X, y = data()
    net.train(X, y, 10)                      # rounded up to 3 slots of 4 images
    assert net.images_seen == 12 and net.step == 15
    first_slot = seen[0]
    assert len(set(first_slot.tolist())) == 4
    assert all(np.array_equal(s, first_slot) for s in seen[:5])


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_rate_mode_with_tau_1_is_per_example_feedback_alignment(backend):
    """MODEL.md: rate mode with tau = 1 and N = 1 is the logistic network trained by FA, example by example."""
    p = SpikingParams(**{**SMALL, "mode": "rate", "tau": 1.0, "steps_per_image": 1, "phi": "linear", "gamma": 0.0,
                         "bias_scale": 0.1, "backend": backend})
    net = SpikingNetwork(p)
    W = [None] + [w.astype(np.float64) for w in net.W[1:]]
    b = [None] + [v.astype(np.float64) for v in net.b[1:]]
    B = net.B
    x = np.random.default_rng(2).random(20).astype(np.float32)
    label = 4
    h = [np.minimum(x, 0.95).astype(np.float64)]
    for layer in (1, 2, 3):
        h.append(1 / (1 + np.exp(-(W[layer] @ h[-1] + b[layer]))))
    target = np.zeros(10)
    target[label * 2:label * 2 + 2] = 1
    d = {3: target - h[3]}
    d[2] = B[2] @ d[3]
    d[1] = B[1] @ d[2]
    net.train(x[None], [label], 1)
    for layer in (1, 2, 3):
        expected = W[layer] + p.eta * np.outer(d[layer] * h[layer] * (1 - h[layer]), h[layer - 1])
        np.testing.assert_allclose(net.W[layer], expected, rtol=1e-5, atol=1e-7)


def test_every_backend_implements_the_protocol():
    """numpy, cpu and cuda are protocol.Backend, each with its own code for every member."""
    from spikefa.spiking.backends import CpuBackend, NumpyBackend
    from spikefa.spiking.protocol import MEMBERS, Backend

    classes = [NumpyBackend, CpuBackend]
    try:
        from spikefa.spiking.cuda import CudaBackend

        classes.append(CudaBackend)
    except ImportError:        # numba without CUDA support: nothing to check
        pass
    for cls in classes:
        for name in MEMBERS:
            if callable(getattr(Backend, name, None)):
                assert getattr(cls, name) is not getattr(Backend, name), f"{cls.__name__}.{name}"
    for backend in ("numpy", "cpu"):
        net = SpikingNetwork(SpikingParams(**{**SMALL, "backend": backend}))
        assert isinstance(net.backend, Backend)
        assert all(hasattr(net.backend, name) for name in MEMBERS)


def test_automatic_threads_are_every_core_only_for_several_streams_on_a_large_network():
    """One stream stays on one core: on two quiet cores it runs ~1.5x faster, but ~25x slower when
    other processes keep both busy (each step waits on threads it cannot get); threads = 2 asks."""
    import numba

    cores = numba.config.NUMBA_NUM_THREADS
    large = dict(sizes=(784, 1500, 10), units_per_class=1)      # a 1500 x 784 layer: 1.18M weights
    assert SpikingNetwork(SpikingParams(**large)).backend.threads_for(1) == 1
    assert SpikingNetwork(SpikingParams(**large)).backend.threads_for(4) == cores
    assert SpikingNetwork(SpikingParams(**{**large, "threads": 2})).backend.threads_for(1) == min(2, cores)
    assert SpikingNetwork(SpikingParams(**SMALL)).backend.threads_for(4) == 1


@pytest.mark.skipif(__import__("numba").config.NUMBA_NUM_THREADS < 2, reason="needs two cores")
@pytest.mark.parametrize("streams", [1, 3])
def test_spike_rows_gives_the_same_bits_on_one_thread_and_two(streams):
    """A run must not depend on the threads it ran on: the parallel build splits units between
    threads but adds each unit's rows in the serial build's order."""
    X, y = data()
    nets = [SpikingNetwork(SpikingParams(**{**SMALL, "threads": t, "streams": streams, "cpu_kernel": "spike-rows"}))
            for t in (1, 2)]
    assert [n.backend.describe(streams).threads for n in nets] == ["rows/1", "rows/2"]
    for net in nets:
        net.train(X, y, 5)
    one, two = nets
    for l in range(1, len(SMALL["sizes"])):
        assert np.array_equal(one.W[l], two.W[l]) and np.array_equal(one.V[l], two.V[l])
        assert np.array_equal(one.U[l], two.U[l])


def test_describe_says_what_a_step_runs():
    from spikefa.spiking import gemm

    X, y = data()
    numpy_ = SpikingNetwork(SpikingParams(**{**SMALL, "backend": "numpy"})).backend.describe(1)
    assert numpy_.kernel == "numpy" and numpy_.products == () and numpy_.first_call == "-"
    rows = SpikingNetwork(SpikingParams(**SMALL))
    rows.train(X, y, 1)
    info = rows.backend.describe(1)
    assert (info.kernel, info.threads, info.products) == ("spike-rows", "rows/1", ())
    assert info.first_call in ("cache", "compiled")
    net = SpikingNetwork(SpikingParams(**{**SMALL, "streams": 8, "cpu_kernel": "gemm"}))
    info = net.backend.describe(8)
    assert info.kernel == "gemm" and info.threads.startswith("gemm/")
    assert [p.job for p in info.products] == ["forward"] * 3 + ["feedback"] * 2 + ["plasticity"] * 3
    assert [p.layer for p in info.products] == [0, 1, 2, 1, 0, 0, 1, 2]
    assert info.products[0][2:] == (8, 16, 20, False, 0.0, False)     # A (8 x 16) = s (8 x 20) W^T
    assert info.products[-1][2:] == (12, 10, 8, False, 1.0, True)    # WT (12 x 10) += s^T D, over 8 streams
    shallow = SpikingNetwork(SpikingParams(**{**SMALL, "streams": 8, "cpu_kernel": "gemm", "feedback": "none"}))
    assert "feedback" not in [p.job for p in shallow.backend.describe(8).products]
    # each product runs as the step runs it: c <- alpha a op(b) + beta c
    rng = np.random.default_rng(1)
    for p in info.products:
        a, b, c = gemm.product_operands(p, rng)
        c += 1
        expected = 0.5 * (a.T if p.trans_a else a) @ (b.T if p.trans_b else b) + p.beta * c
        gemm.run_product(p, a, b, c, alpha=0.5)
        np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-6)


def test_core_scalars_compiled_for_the_host_match_plain_python():
    from spikefa.spiking import core, host, reference

    f = np.float32
    K = host.K
    for v in (f(-3.5), f(0.0), f(0.7), f(12.0)):
        np.testing.assert_allclose(K.sigmoid(v), core.sigmoid(v), rtol=1e-6)
        np.testing.assert_allclose(K.phi(v, 0), np.tanh(v), rtol=1e-6)
        assert K.phi(v, 1) == v
        assert K.leak(v, f(0.25), f(0.9)) == core.leak(v, f(0.25), f(0.9))
        assert K.plasticity_factor(v, f(0.3)) == core.plasticity_factor(v, f(0.3))
        assert K.bias_step(v, f(2.0), f(1e-3), f(1e-8)) == core.bias_step(v, f(2.0), f(1e-3), f(1e-8))
    seed, t, key = np.uint64(7), np.uint64(11), np.uint64(core.stream_key(2, 3, 1))
    assert core.stream_key(2, 3, 1) == rng.layer_key(2, 3, 1) == K.stream_key(2, 3, 1)
    u = rng.uniform(7, 11, rng.layer_key(2, 3, 1), np.arange(5))
    assert [K.uniform(seed, t, key, i) for i in range(5)] == list(u)
    assert [K.sample(f(0.5), False, seed, t, key, i) for i in range(5)] == list((u < 0.5).astype(np.float32))
    assert K.sample(f(0.3), True, seed, t, key, 0) == f(0.3)
    assert core.INPUT_CAP == reference.INPUT_CAP
    assert K.input_probability(f(1.0)) == f(0.95) and K.input_probability(f(0.5)) == f(0.5)
    assert [K.class_target(i, 2, 3) for i in range(10)] == [0, 0, 0, 0, 0, 0, 1, 1, 1, 0]
    assert K.decayed_scale(1.0, f(1e-8)) == core.decayed_scale(1.0, f(1e-8)) < 1.0
    assert K.plasticity_coef(f(1e-3), 0.5) == core.plasticity_coef(f(1e-3), 0.5) == f(2e-3)
    assert K.must_fold(0.49) and not K.must_fold(0.5)


def test_kernels_take_their_scalars_and_codes_from_one_place():
    """No kernel retypes a per-step scalar of core.py or compares a mode with a bare number; gemm.py
    imports no private name of cpu.py, nor the benchmark of gemm.py."""
    import ast
    import io
    import re
    import tokenize
    from pathlib import Path

    def code_of(path):      # the source without its strings and comments
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
        return "".join(t.string for t in tokens if t.type not in (tokenize.STRING, tokenize.COMMENT))

    root = Path(__file__).resolve().parent.parent / "spikefa"
    kernels = [root / "spiking" / name for name in ("cpu.py", "gemm.py", "cuda.py", "host.py")]
    retyped = ("0.95", "hash_uniform(", "(np.float32(1.0)-p)", "1.0-np.float64(gamma)", "math.exp(-", "np.exp(-v)",
               "<<np.uint64(8)", "np.float64(eta)/")
    mode_number = re.compile(r"(kind|fb|feedback|phi|readout|purpose)\w*[!=]=\d")
    for path in kernels:
        source = code_of(path)
        for text in retyped:
            assert text not in source, f"{path.name} retypes {text!r}: use core.py"
        assert not mode_number.search(source), f"{path.name}: {mode_number.search(source).group(0)}"
    for path, module in ((root / "spiking" / "gemm.py", "cpu"), (root / "bench" / "spiking.py", "gemm"),
                         (root / "bench" / "_floor.py", "gemm")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == module:
                assert not [a.name for a in node.names if a.name.startswith("_")], path.name
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == module:
                assert not node.attr.startswith("_"), f"{path.name}: {module}.{node.attr}"
