"""The cpu backend's gemm kernel (BLAS products over all streams) agrees with the numpy reference."""

import numpy as np
import pytest

from spikefa.spiking import SpikingNetwork, SpikingParams
from spikefa.spiking.backends import GEMM_MIN_STREAMS

from test_spiking_backends import SMALL, Trace, assert_same_run, data, run_traced


def c_ordered(net):
    """Store the weights row-major again: the layout the gemm kernel meets after spike-rows training."""
    w = net.weights
    for h in range(len(w.WT)):
        w.WT[h] = np.ascontiguousarray(w.WT[h])
        if w.maskT[h] is not None:
            w.maskT[h] = np.ascontiguousarray(w.maskT[h])


@pytest.mark.parametrize("kw", [
    dict(feedback="fa", streams=8),
    dict(feedback="bp", streams=9),
    dict(feedback="direct", sparse=0.4, streams=8),
    dict(feedback="none", phi="linear", streams=8),
    dict(feedback="fa", mode="rate", streams=8),
    dict(feedback="bp", streams=8, layout="C"),
    dict(feedback="fa", sparse=0.3, streams=8, layout="C"),
], ids=["fa", "bp-9streams", "direct-sparse", "shallow-linear", "rate", "bp-row-major", "fa-sparse-row-major"])
def test_gemm_matches_numpy_step_by_step(kw):
    kw = dict(kw)
    layout = kw.pop("layout", "F")
    ref, ref_trace = run_traced("numpy", **kw)
    net = SpikingNetwork(SpikingParams(**{**SMALL, **kw, "backend": "cpu", "cpu_kernel": "gemm"}))
    assert net.weights.WT[1].flags.f_contiguous and not net.weights.WT[1].flags.c_contiguous
    if layout == "C":
        c_ordered(net)
    trace = Trace()
    net.add_observer(trace)
    X, y = data()
    net.train(X, y, 40)
    assert net.backend.kernel_for(net.params.streams) == "gemm"
    assert_same_run(ref, ref_trace, net, trace, kw.get("mode") == "rate")
    if kw.get("sparse"):
        for layer in range(1, ref.params.n_layers + 1):
            assert np.all(net.W[layer][~net.masks[layer]] == 0)
    assert not np.allclose(net.W[3], SpikingNetwork(SpikingParams(**{**SMALL, **kw})).W[3])
    X_test, y_test = data(n=24, seed=5)
    assert np.array_equal(ref.predict(X_test), net.predict(X_test))


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


def test_gemm_steps_allocate_no_arrays():
    """After the first call (scratch), a block of steps allocates nothing the size of a state array."""
    import tracemalloc

    net = SpikingNetwork(SpikingParams(sizes=(600, 500, 200), units_per_class=20, streams=8, cpu_kernel="gemm"))
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
