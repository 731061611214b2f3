"""The CUDA backend under Numba's simulator agrees with the numpy reference step by step (tiny networks:
the simulator runs every GPU thread as a Python thread); CPU-only use never imports numba.cuda."""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

AGREEMENT = textwrap.dedent("""
    import warnings
    import numpy as np
    warnings.simplefilter("ignore")   # uint64 wrap-around in the simulated hash is intended
    from spikefa.spiking import SpikingNetwork, SpikingParams

    class Trace:
        def __init__(self):
            self.rows = []
        def on_step(self, net):
            row = {}
            for layer in range(0, 4):
                row["spikes", layer] = np.array(net.layer_state("spikes", layer, stream=None))
            for layer in range(1, 4):
                for var in ("V", "U", "mod"):
                    row[var, layer] = np.array(net.layer_state(var, layer, stream=None))
            self.rows.append(row)

    r = np.random.default_rng(0)
    X, y = r.random((8, 20)).astype(np.float32), r.integers(0, 5, 8)
    base = dict(sizes=(20, 16, 12, 10), units_per_class=2, eta=0.05, gamma=1e-3, init_scale=0.3,
                feedback_scale=0.5, test_streams=4)
    for kw, images in ((dict(feedback="fa", sparse=0.3), 4), (dict(feedback="bp", streams=2), 2),
                       (dict(feedback="direct", mode="rate", steps_per_image=3), 2)):
        nets = {}
        for backend in ("numpy", "cuda"):
            net = SpikingNetwork(SpikingParams(**base, **kw, backend=backend))
            trace = Trace()
            net.add_observer(trace)
            net.train(X, y, images)
            nets[backend] = (net, trace)
        (ref, ref_trace), (dev, dev_trace) = nets["numpy"], nets["cuda"]
        assert len(ref_trace.rows) == len(dev_trace.rows) > 0
        for t, (a, b) in enumerate(zip(ref_trace.rows, dev_trace.rows)):
            for key in a:
                if key[0] == "spikes" and kw.get("mode") != "rate":
                    assert np.array_equal(a[key], b[key]), (kw, key, t)
                else:
                    np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=2e-5, err_msg=str((kw, key, t)))
        for layer in range(1, 4):
            np.testing.assert_allclose(ref.W[layer], dev.W[layer], rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(ref.b[layer], dev.b[layer], rtol=1e-4, atol=1e-6)
        assert ref.step == dev.step and ref.images_seen == dev.images_seen
        if kw["feedback"] == "fa":
            assert np.array_equal(ref.predict(X[:4]), dev.predict(X[:4]))
    print("agree")
""")


def run_python(code, **env):
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full_env, capture_output=True, text=True,
                          timeout=300)


def test_cuda_simulator_matches_numpy():
    result = run_python(AGREEMENT, NUMBA_ENABLE_CUDASIM="1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "agree" in result.stdout


@pytest.mark.skipif(os.environ.get("SPIKEFA_GPU_TESTS") != "1", reason="needs an NVIDIA GPU (SPIKEFA_GPU_TESTS=1)")
def test_real_gpu_matches_numpy():
    """The same comparison on real hardware (scripts/device_check.sh sets SPIKEFA_GPU_TESTS=1)."""
    result = run_python(AGREEMENT, NUMBA_ENABLE_CUDASIM="0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "agree" in result.stdout


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="the simulator always has a 'GPU'")
def test_cpu_only_use_never_imports_numba_cuda():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from spikefa.errors import ConfigError
        from spikefa.spiking import SpikingNetwork, SpikingParams
        import spikefa.experiments.spiking
        net = SpikingNetwork(SpikingParams(sizes=(20, 16, 12, 10), units_per_class=2, backend="cpu"))
        net.train(np.full((4, 20), 0.5, dtype=np.float32), np.arange(4))
        assert "numba.cuda" not in sys.modules, "numba.cuda imported"
        assert "spikefa.spiking.cuda" not in sys.modules
        print("clean")
        # asking for cuda where there is no GPU is an error a user can act on
        try:
            SpikingNetwork(SpikingParams(sizes=(20, 16, 10), units_per_class=2, backend="cuda"))
            print("has gpu")
        except ConfigError as exc:
            print("refused:", exc)
    """)
    result = run_python(code)
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr[-3000:]
    assert "has gpu" in result.stdout or "no CUDA GPU" in result.stdout
