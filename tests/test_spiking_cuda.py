"""CPU-only use never imports numba.cuda, and asking for cuda without a GPU is an error a user can act on.

The cuda backend's step-by-step agreement with the numpy reference (under Numba's simulator, and on a
real GPU with SPIKEFA_GPU_TESTS=1) is in test_spiking_agreement.py, with every other backend's."""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, **env):
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full_env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.skipif(os.environ.get("SPIKEFA_GPU_TESTS") != "1", reason="needs an NVIDIA GPU (SPIKEFA_GPU_TESTS=1)")
def test_real_gpu_matches_numpy():
    """The agreement module's cuda cases on real hardware, here too because scripts/device_check.sh
    names this file (test_spiking_agreement.py runs them, and the simulator's, itself)."""
    from test_spiking_agreement import CUDA_CASES, run_cuda_case

    for case in CUDA_CASES:
        run_cuda_case(case, simulator=False)


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
