"""The cpu backend's gemm kernel (BLAS products over all streams): when it is picked, its BLAS threads, and
that its steps allocate nothing."""

import numpy as np
import pytest

from spikefa.spiking import SpikingNetwork, SpikingParams
from spikefa.spiking.backends import GEMM_MIN_STREAMS

from test_spiking_agreement import SMALL, data

# The gemm kernel's step-by-step agreement with the numpy reference: test_spiking_agreement.py.


def test_auto_picks_gemm_only_for_many_streams_on_large_layers():
    small = SpikingNetwork(SpikingParams(**{**SMALL, "streams": 32}))
    assert small.backend.kernel_for(32) == "spike-rows"
    big = dict(sizes=(600, 500, 20), units_per_class=2)
    one = SpikingNetwork(SpikingParams(**big))
    assert one.backend.kernel_for(1) == "spike-rows"
    assert one.backend.kernel_for(GEMM_MIN_STREAMS) == "gemm"      # testing with many streams
    assert one.weights.WT[0].flags.c_contiguous
    many = SpikingNetwork(SpikingParams(**big, streams=GEMM_MIN_STREAMS))
    assert many.weights.WT[0].flags.f_contiguous and many.backend.kernel_for(1) == "gemm"
    forced = SpikingNetwork(SpikingParams(**big, streams=GEMM_MIN_STREAMS, cpu_kernel="spike-rows"))
    assert forced.backend.kernel_for(GEMM_MIN_STREAMS) == "spike-rows"
    assert forced.weights.WT[0].flags.c_contiguous


def test_threads_caps_blas_for_the_gemm_kernel(monkeypatch):
    from types import SimpleNamespace

    from threadpoolctl import threadpool_info

    from spikefa.spiking import gemm

    def openblas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openblas"]

    seen, real = [], gemm.blas.sgemm

    def sgemm(*args, **kwargs):
        seen.append(openblas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(gemm, "blas", SimpleNamespace(sgemm=sgemm))
    net = SpikingNetwork(SpikingParams(**{**SMALL, "streams": 8, "cpu_kernel": "gemm", "threads": 1}))
    X, y = data()
    before = openblas_threads()
    net.train(X, y, 8)
    assert before and seen and all(n == [1] * len(before) for n in seen)
    assert openblas_threads() == before        # restored after the call


@pytest.mark.parametrize("threads", [1, 2])
def test_gemm_steps_allocate_no_arrays(threads):
    """After the first call (scratch), a block of steps allocates nothing the size of a state array,
    with the elementwise kernels serial or on two threads."""
    import tracemalloc

    net = SpikingNetwork(SpikingParams(sizes=(600, 500, 200), units_per_class=20, streams=8, cpu_kernel="gemm",
                                       threads=threads))
    X = np.random.default_rng(0).random((64, 600)).astype(np.float32)
    y = np.arange(64) % 10
    net.train(X, y, 16)                                 # compiles, allocates the scratch
    smallest = 8 * 200 * 4                              # the smallest (S, n) array: the output layer's
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        net.backend.run(net.state, X, np.zeros((4, 8), dtype=np.int64), np.zeros((4, 8), dtype=np.int64),
                        np.zeros((4, 8, 10), dtype=np.float32), 0, 20, 5, net.step, True, 0)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < smallest, f"{peak} bytes allocated during 20 steps"


def test_gemm_runs_on_a_streams_last_copy_that_observers_see_and_train_writes_back():
    """to_device hands the gemm kernel a Fortran-ordered copy of the state for the whole call: an
    observer reads the live copy, and the host state holds the same values when train returns. A
    state passed to run directly (not streams-last) gives the same values, step for step."""
    X, y = data()
    params = {**SMALL, "streams": 8, "cpu_kernel": "gemm"}
    net = SpikingNetwork(SpikingParams(**params))
    seen = []

    class Observer:
        def on_step(self, n):
            seen.append((n._live.V[0].flags.f_contiguous, n.layer_state("V", 1, None).copy()))

    net.add_observer(Observer())
    net.train(X, y, 16)
    assert seen and all(fortran for fortran, _ in seen)
    assert net.state.V[0].flags.c_contiguous            # the host state keeps its layout
    np.testing.assert_array_equal(net.state.V[0], seen[-1][1])

    order = np.arange(16).reshape(2, 8)
    direct, copied = SpikingNetwork(SpikingParams(**params)), SpikingNetwork(SpikingParams(**params))
    for q in range(10):                                 # one step per call: copied in and out each time
        direct.backend.run(direct.state, X, order, y[order], np.zeros((2, 8, 10), np.float32), q, 1, 5, q, True, 0)
    live = copied.backend.to_device(copied.state)
    copied.backend.run(live, X, order, y[order], np.zeros((2, 8, 10), np.float32), 0, 10, 5, 0, True, 0)
    copied.backend.to_host(copied.state, live)
    for mine, theirs in zip(direct.state.groups(), copied.state.groups()):
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(direct.weights.WT, copied.weights.WT):
        np.testing.assert_array_equal(a, b)


def test_a_nan_in_the_streams_last_state_is_found():
    net = SpikingNetwork(SpikingParams(sizes=(600, 500, 200), units_per_class=20, streams=8, cpu_kernel="gemm"))
    live = net.backend.to_device(net.state)
    assert live.U[1].flags.f_contiguous and not live.U[1].flags.c_contiguous
    assert net.backend.nonfinite(live) is None
    live.U[1][5, 7] = np.inf
    assert net.backend.nonfinite(live) == ("U", 2)
    live.U[1][5, 7] = 0
    live.V[0][7, 499] = np.nan
    assert net.backend.nonfinite(live) == ("V", 1)


@pytest.mark.parametrize("streams, units", [(3, 13), (16, 40), (32, 37)])
def test_factor_and_bias_eight_units_at_a_time_gives_host_bits(streams, units):
    """gemm's blocked bias step sums each unit's streams in order, as host.bias_and_factor does."""
    from spikefa.spiking import gemm, host

    rng = np.random.default_rng(streams)
    Mod, P = (np.asfortranarray(rng.normal(0, 1, (streams, units)).astype(np.float32)) for _ in range(2))
    D_host, D_gemm = (np.zeros((streams, units), np.float32, order="F") for _ in range(2))
    b_host = rng.normal(0, 1, units).astype(np.float32)
    b_gemm = b_host.copy()
    eta, gamma = np.float32(0.3), np.float32(1e-3)
    host.bias_and_factor(b_host, Mod, P, D_host, eta, gamma)
    gemm._factor_and_bias_t(b_gemm, Mod.T, P.T, D_gemm.T, eta, gamma)
    assert np.array_equal(b_host.view(np.uint32), b_gemm.view(np.uint32))
    assert np.array_equal(D_host.view(np.uint32), D_gemm.view(np.uint32))


@pytest.mark.parametrize("streams, units, per_class", [(3, 10, 1), (9, 20, 2), (32, 1000, 100), (13, 40, 4)])
def test_votes_eight_streams_at_a_time_give_host_bits(streams, units, per_class):
    """gemm's streams-last vote count sums each stream's class units in order, as host.count_votes does."""
    from spikefa.spiking import gemm, host

    rng = np.random.default_rng(units)
    out = np.asfortranarray(rng.random((streams, units)).astype(np.float32) * (rng.random((streams, units)) < 0.4))
    counts_host = rng.random((streams, units // per_class)).astype(np.float32)
    counts_gemm = counts_host.copy()
    host.count_votes(out, counts_host, per_class)
    gemm._count_votes_t(out.T, counts_gemm, per_class)
    assert np.array_equal(counts_host.view(np.uint32), counts_gemm.view(np.uint32))
