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
