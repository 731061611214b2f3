"""SpikingNetwork.state_dict / load_state_dict: a network restored from its state goes on bit for bit."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from spikefa.spiking import SpikingNetwork

from test_spiking_checkpoint import PARAMS, data      # the checkpoint tests' network: two streams, sparse


def assert_states_equal(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), key
        else:
            assert type(x) is type(y) and x == y, key


@pytest.mark.parametrize("backend, kernel, feedback", [("numpy", "auto", "fa"), ("cpu", "spike-rows", "fa"),
                                                       ("cpu", "gemm", "fa"), ("cpu", "spike-rows", "direct"),
                                                       ("numpy", "auto", "bp")])
def test_a_restored_network_goes_on_bit_for_bit(backend, kernel, feedback):
    X, y = data()
    p = PARAMS.replace(backend=backend, cpu_kernel=kernel, feedback=feedback)
    net = SpikingNetwork(p)
    net.train(X, y, 12)
    net.eta = 0.03                                   # a schedule lowered it: the state carries it
    state = net.state_dict()
    assert (state["step"], state["images_seen"], state["eta"]) == (net.step, 12, 0.03)
    assert all(isinstance(v, np.ndarray) for k, v in state.items() if k not in ("step", "images_seen", "eta"))
    # decay is pending and stays so: the weights as stored, with their scale, not folded
    assert np.all(state["scale"] < 1)
    np.testing.assert_array_equal(state["layer1/WT"], net.weights.WT[0])
    assert not np.shares_memory(state["layer1/WT"], net.weights.WT[0])
    restored = SpikingNetwork(p)
    restored.load_state_dict(state)
    assert_states_equal(restored.state_dict(), state)
    for n in (net, restored):
        n.train(X, y, 26)                           # crosses an epoch boundary: the data order goes on too
    assert_states_equal(restored.state_dict(), net.state_dict())
    assert restored.test(X, y) == net.test(X, y)
    for l in range(1, 4):
        np.testing.assert_array_equal(restored.W[l], net.W[l])


def test_the_state_is_a_copy_and_loads_into_another_backend():
    X, y = data()
    net = SpikingNetwork(PARAMS.replace(backend="numpy"))
    net.train(X, y, 6)
    state = net.state_dict()
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}
    net.train(X, y, 6)
    assert_states_equal(state, before)              # training on does not change a state taken earlier
    other = SpikingNetwork(PARAMS.replace(backend="cpu", cpu_kernel="gemm", test_streams=2))
    assert other.weights.WT[0].flags.f_contiguous
    other.load_state_dict(state)
    assert other.weights.WT[0].flags.f_contiguous    # loaded in place, in the layout its kernel wants
    assert_states_equal(other.state_dict(), state)


def test_a_state_that_does_not_fit_is_refused_and_changes_nothing():
    X, y = data()
    net = SpikingNetwork(PARAMS)
    net.train(X, y, 4)
    mine = net.state_dict()
    wider = SpikingNetwork(PARAMS.replace(sizes=(20, 18, 12, 10))).state_dict()
    with pytest.raises(ValueError, match="layer1/WT"):
        net.load_state_dict(wider)
    dense = SpikingNetwork(PARAMS.replace(sparse=0.0)).state_dict()
    with pytest.raises(ValueError, match="missing layer1/maskT"):
        net.load_state_dict(dense)
    with pytest.raises(ValueError, match="unknown extra"):
        net.load_state_dict({**mine, "extra": 1})
    with pytest.raises(ValueError, match="eta"):
        net.load_state_dict({**mine, "eta": float("nan")})
    assert_states_equal(net.state_dict(), mine)


CUDA_SCRIPT = textwrap.dedent("""
    import warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from spikefa.spiking import SpikingNetwork, SpikingParams
    r = np.random.default_rng(1)
    X, y = r.random((8, 20)).astype(np.float32), r.integers(0, 5, 8)
    p = SpikingParams(sizes=(20, 16, 12, 10), units_per_class=2, eta=0.05, gamma=1e-3, init_scale=0.3,
                      feedback_scale=0.5, streams=2, test_streams=2, seed=3, backend="cuda", steps_per_image=3)
    net = SpikingNetwork(p)
    net.train(X, y, 2)
    restored = SpikingNetwork(p)
    restored.load_state_dict(net.state_dict())
    for n in (net, restored):
        n.train(X, y, 2)
    a, b = net.state_dict(), restored.state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a), [k for k in a if not np.array_equal(a[k], b[k])]
    print("ok")
""")


def test_cuda_state_round_trip_under_the_simulator():
    pytest.importorskip("spikefa.spiking.cuda")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    res = subprocess.run([sys.executable, "-c", CUDA_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().splitlines()[-1] == "ok"
