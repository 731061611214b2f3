"""Testing options and the learning-rate schedule: the test readout (spikes, rate, psp), test dynamics
from V = U = 0 per image or carried on (test_carry), M = 20 test steps, and eta changed during a run
(net.eta, train.eta_drop_*, data.validation_size). Every backend agrees with the numpy reference
step by step while testing; the cuda backend is checked under Numba's simulator."""

import os
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from spikefa.config import load_model
from spikefa.errors import ConfigError
from spikefa.runner import run_model
from spikefa.spiking import SpikingNetwork, SpikingParams, load_checkpoint, save_checkpoint
from spikefa.spiking.network import TEST
from spikefa.spiking.params import READOUTS
from spikefa.spiking.state import new_streams
from small_models import small_spiking

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = dict(sizes=(20, 16, 12, 10), units_per_class=2, eta=0.05, gamma=1e-3, init_scale=0.3, bias_scale=0.5,
             feedback_scale=0.5, test_streams=3, test_steps=20)
BACKENDS = [("numpy", "auto"), ("cpu", "spike-rows"), ("cpu", "gemm")]


def data(n=7, seed=0):
    r = np.random.default_rng(seed)
    return r.random((n, 20)).astype(np.float32), r.integers(0, 5, n)


# The same helper runs inside the cuda simulator's subprocess (see test_cuda_simulator_agrees).
TRACE_TEST = '''
def trace_test(net, X, readout, carry):
    """Testing one step per call, as net.test runs it: the state of every step and the votes."""
    p = net.params
    T, M, n = p.test_streams, p.test_steps, len(X)
    n_slots = -(-n // T)
    order = np.arange(n_slots * T, dtype=np.int64)
    order[order >= n] = 0
    order = order.reshape(n_slots, T)
    counts = np.zeros((n_slots, T, p.n_classes), dtype=np.float32)
    state = new_streams(p.sizes, T)
    live = net.backend.to_device(state)
    rows = []
    for q in range(n_slots * M):
        net.backend.run(live, X, order, np.zeros_like(order), counts, q, 1, M, q, False, TEST,
                        READOUTS.index(readout), not carry)
        row = {("spikes", 0): np.array(live.s[0])}
        for h in range(p.n_layers):
            row["spikes", h + 1] = np.array(live.s[h + 1])
            row["V", h + 1] = np.array(live.V[h])
            row["P", h + 1] = np.array(live.P[h])
            row["U", h + 1] = np.array(live.U[h])
        rows.append(row)
    return rows, counts.reshape(n_slots * T, -1)[:n]


def assert_same_test(ref, other, rate_mode=False):
    (rows_a, votes_a), (rows_b, votes_b) = ref, other
    assert len(rows_a) == len(rows_b)
    for t, (a, b) in enumerate(zip(rows_a, rows_b)):
        for key in a:
            if key[0] == "spikes" and not rate_mode:
                assert np.array_equal(a[key], b[key]), f"{key} differ at test step {t}"
            else:
                np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=2e-5, err_msg=f"{key} at test step {t}")
    np.testing.assert_allclose(votes_a, votes_b, rtol=1e-4, atol=1e-4)
'''
exec(TRACE_TEST)


def net_for(backend, kernel="auto", **kw):
    return SpikingNetwork(SpikingParams(**{**SMALL, **kw, "backend": backend, "cpu_kernel": kernel}))


# -- agreement with the reference ---------------------------------------------------------------
@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("carry", [False, True], ids=["fresh", "carry"])
def test_testing_agrees_with_numpy_step_by_step(readout, carry):
    """M = 20 test steps, 3 test streams, 7 images (a padded last slot): spikes identical, V and the
    votes within float32 rounding, on the cpu backend's spike-rows and gemm kernels."""
    X, _ = data()
    ref = trace_test(net_for("numpy"), X, readout, carry)
    for backend, kernel in BACKENDS[1:]:
        assert_same_test(ref, trace_test(net_for(backend, kernel), X, readout, carry))


@pytest.mark.parametrize("backend, kernel", BACKENDS)
def test_net_test_votes_as_traced(backend, kernel):
    """net.test runs blocks of steps; its votes are those of the step-by-step run, for every readout."""
    X, y = data()
    for readout in READOUTS:
        for carry in (False, True):
            net = net_for(backend, kernel, test_readout=readout, test_carry=carry)
            _, traced = trace_test(net, X, readout, carry)
            np.testing.assert_allclose(net._vote(X), traced, rtol=1e-5, atol=1e-5)
            assert net.test(X, y) == float((traced.argmax(axis=1) != y).mean())


def test_choosing_test_steps_agrees_across_backends():
    """train.test_steps_choices' choice (spiking.test_steps_choice) on each cpu kernel: the same
    validation error at every M as the numpy reference, so the same M chosen and the same test error."""
    from spikefa.spiking.test_steps_choice import choose_test_steps

    Xv, yv = data(n=30, seed=1)
    Xt, yt = data(n=20, seed=2)
    choices = []
    for backend, kernel in BACKENDS:
        net = net_for(backend, kernel)
        net.train(*data(n=40, seed=3), 40)
        choices.append(choose_test_steps(net, [1, 3, 8, 20], Xv, yv, Xt, yt))
    assert all(c == choices[0] for c in choices[1:]), choices
    assert len(set(choices[0].validation_errors)) > 1        # the candidates are told apart


def test_readouts_add_up_what_they_say():
    """spikes: whole spike counts; rate: the sum of sigma(V_L) over the M steps; psp: of V_L; each per
    class group of units_per_class output units."""
    X, _ = data()
    net = net_for("numpy")
    for readout, var in (("spikes", "spikes"), ("rate", "P"), ("psp", "V")):
        rows, votes = trace_test(net, X, readout, carry=False)
        M, T = net.params.test_steps, net.params.test_streams
        for i in range(len(X)):
            slot, k = divmod(i, T)
            total = sum(rows[q][var, 3][k] for q in range(slot * M, (slot + 1) * M))
            np.testing.assert_allclose(votes[i], total.reshape(5, 2).sum(axis=1), rtol=1e-5, atol=1e-4)
        if readout == "spikes":
            assert np.array_equal(votes, np.round(votes)) and votes.max() <= 2 * M


# -- what the options mean ----------------------------------------------------------------------
def test_fresh_starts_every_image_from_zero_and_carry_runs_on():
    """Rate mode (no sampling): without carry an image's votes do not depend on the images before it
    in its stream; with carry they do, through V (tau = 0.5 and M = 3 keep 1/8 of the last V)."""
    X, _ = data(n=6)
    kw = dict(mode="rate", tau=0.5, test_steps=3, test_streams=2)
    for backend, kernel in BACKENDS:
        fresh = net_for(backend, kernel, **kw)
        alone = np.stack([fresh._vote(X[i:i + 1])[0] for i in range(len(X))])
        np.testing.assert_allclose(fresh._vote(X), alone, rtol=1e-5, atol=1e-5)
        carried = net_for(backend, kernel, test_carry=True, **kw)._vote(X)
        np.testing.assert_allclose(carried[:2], alone[:2], rtol=1e-5, atol=1e-5)   # first image of each stream
        assert np.abs(carried[2:] - alone[2:]).max() > 1e-3


def test_carry_continues_the_v_of_the_image_before():
    """With test_carry the first step of an image integrates from the V its stream's last image left."""
    X, _ = data(n=4)
    net = net_for("numpy", test_streams=1, test_steps=4)
    rows, _ = trace_test(net, X, "spikes", carry=True)
    fresh_rows, _ = trace_test(net, X, "spikes", carry=False)
    for q in (4, 8, 12):  # the first step of images 1, 2, 3
        tau = np.float32(net.params.tau)
        A = rows[q]["spikes", 0] @ net.W[1].T
        np.testing.assert_allclose(rows[q]["V", 1], rows[q - 1]["V", 1] + tau * (A + net.b[1] - rows[q - 1]["V", 1]),
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(fresh_rows[q]["V", 1], tau * (A + net.b[1]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend, kernel", BACKENDS)
def test_evaluating_never_changes_training(backend, kernel):
    """Tested (with carry, every readout) between two training calls: the same weights, state and
    step as a network never tested; and testing twice gives the same votes."""
    X, y = data(n=20)
    plain = net_for(backend, kernel, streams=2)
    plain.train(X, y, 10)
    plain.train(X, y, 10)
    for readout in READOUTS:
        tested = net_for(backend, kernel, streams=2, test_carry=True, test_readout=readout)
        tested.train(X, y, 10)
        first = tested._vote(X)
        np.testing.assert_array_equal(first, tested._vote(X))
        tested.train(X, y, 10)
        assert tested.step == plain.step
        for a, b in zip(plain.weights.WT + plain.weights.b, tested.weights.WT + tested.weights.b):
            np.testing.assert_array_equal(a, b)
        for ga, gb in zip(plain.state.groups(), tested.state.groups()):
            for a, b in zip(ga, gb):
                np.testing.assert_array_equal(a, b)


def test_bad_readout_is_refused():
    with pytest.raises(ConfigError, match="test_readout"):
        SpikingParams(**{**SMALL, "test_readout": "votes"})
    with pytest.raises(ConfigError, match="test_carry"):
        SpikingParams(**{**SMALL, "test_carry": 1})


# -- eta ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend, kernel", BACKENDS)
def test_setting_eta_equals_starting_with_it(backend, kernel, tmp_path):
    """net.eta = x trains exactly like a network built with eta = x; checkpoints keep it."""
    X, y = data(n=20)
    a = net_for(backend, kernel, streams=2, eta=0.05)
    b = net_for(backend, kernel, streams=2, eta=0.05)
    c = net_for(backend, kernel, streams=2, eta=0.01)
    a.train(X, y, 10)
    b.train(X, y, 10)
    b.eta = 0.01
    assert b.eta == 0.01 and b.params.eta == 0.05
    path = str(tmp_path / "b.ckpt.h5")
    save_checkpoint(b, path)
    b2, _ = load_checkpoint(path)
    assert b2.eta == 0.01
    b.train(X, y, 10)
    b2.train(X, y, 10)
    a.train(X, y, 10)
    # c: eta 0.01 from the start, on the weights and state b had when eta changed
    c2 = net_for(backend, kernel, streams=2, eta=0.05)
    c2.train(X, y, 10)
    for mine, theirs in zip(c.weights.WT + c.weights.b, c2.weights.WT + c2.weights.b):
        mine[...] = theirs
    c.weights.scale[:] = c2.weights.scale
    c.state.copy_from(c2.state)
    c.step, c.images_seen = c2.step, c2.images_seen
    c.train(X, y, 10)
    for x, z, w in zip(b.weights.WT + b.weights.b, b2.weights.WT + b2.weights.b, c.weights.WT + c.weights.b):
        np.testing.assert_array_equal(x, z)
        np.testing.assert_array_equal(x, w)
    assert not np.array_equal(a.weights.WT[0], b.weights.WT[0])
    with pytest.raises(ValueError):
        b.eta = float("nan")


MODEL = small_spiking(
    data={"synthetic_train": 260, "validation_size": 60},
    train={"eval_every": 40, "test_steps": 20, "test_readout": "rate", "test_carry": True,
           "eta_drop_factor": 0.5, "eta_drop_patience": 1, "eta_drop_min_delta": 0.5},
)


def test_schedule_drops_eta_on_the_validation_error_and_resumes(tmp_path):
    """min_delta 0.5 never counts as an improvement: eta halves at every evaluation after the first. It is
    written per evaluation, decided on the held-out images, and a resumed run continues the schedule."""
    full_path, rows = run_model(load_model(text=MODEL), str(tmp_path / "full.h5"), show_progress=False,
                                echo=False)
    assert rows[0]["eta_decided_on"] == "validation" and rows[0]["eta"] == pytest.approx(0.03 / 2 ** 5)
    with h5py.File(full_path) as h5:
        eta = h5["metrics/fa/eta"][()]
        np.testing.assert_allclose(eta, 0.03 / 2.0 ** np.arange(6))
        assert len(h5["metrics/fa/validation_error"][()]) == 6
    half = load_model(text=MODEL, overrides=["train.images=120"])
    run_model(half, str(tmp_path / "half.h5"), show_progress=False, echo=False)
    net, _ = load_checkpoint(str(tmp_path / "half.ckpt.h5"))
    assert net.eta == pytest.approx(0.03 / 4)
    resumed_path, _ = run_model(load_model(text=MODEL), str(tmp_path / "resumed.h5"), show_progress=False,
                                echo=False, resume=str(tmp_path / "half.ckpt.h5"))
    with h5py.File(full_path) as a, h5py.File(resumed_path) as b:
        for name in ("examples_seen", "test_error", "validation_error", "train_error", "eta"):
            np.testing.assert_array_equal(a[f"metrics/fa/{name}"][()], b[f"metrics/fa/{name}"][()])


def test_training_ends_when_eta_falls_below_stop_at_eta(tmp_path):
    """eta halves at every evaluation after the first (0.03, 0.015, 0.0075, 0.00375): with stop_at_eta
    = 0.005 the run ends at the fourth, and a run resumed before it ends at the same place, with the
    same curve."""
    stop = ["train.stop_at_eta=0.005"]
    path, rows = run_model(load_model(text=MODEL, overrides=stop), str(tmp_path / "s.h5"), show_progress=False,
                           echo=False)
    assert rows[0]["images"] == 160 and rows[0]["stopped_early"] is True
    assert rows[0]["eta"] == pytest.approx(0.00375)
    with h5py.File(path) as h5:
        np.testing.assert_array_equal(h5["metrics/fa/examples_seen"][()], [40, 80, 120, 160])
    run_model(load_model(text=MODEL, overrides=["train.images=80"]), str(tmp_path / "h.h5"), show_progress=False,
              echo=False)
    resumed, rows_r = run_model(load_model(text=MODEL, overrides=stop), str(tmp_path / "r.h5"), show_progress=False,
                                echo=False, resume=str(tmp_path / "h.ckpt.h5"))
    assert rows_r[0]["images"] == 160 and rows_r[0]["test_error"] == rows[0]["test_error"]
    with h5py.File(path) as a, h5py.File(resumed) as b:
        for name in ("examples_seen", "test_error", "validation_error", "eta"):
            np.testing.assert_array_equal(a[f"metrics/fa/{name}"][()], b[f"metrics/fa/{name}"][()])
    # a checkpoint whose eta is already below: nothing left to train, the run closes at once
    again, rows_a = run_model(load_model(text=MODEL, overrides=stop), str(tmp_path / "a.h5"), show_progress=False,
                              echo=False, resume=str(tmp_path / "s.ckpt.h5"))
    assert rows_a[0]["images"] == 160 and rows_a[0]["test_error"] == rows[0]["test_error"]
    never = load_model(text=MODEL, overrides=["train.images=120", "train.stop_at_eta=0.001"])
    _, rows_n = run_model(never, str(tmp_path / "n.h5"), show_progress=False, echo=False)
    assert rows_n[0]["images"] == 120 and rows_n[0]["stopped_early"] is False


def test_schedule_on_the_test_error_without_validation(tmp_path):
    model = load_model(text=MODEL, overrides=["data.validation_size=0", "train.images=80"])
    path, rows = run_model(model, str(tmp_path / "t.h5"), show_progress=False, echo=False)
    assert rows[0]["eta_decided_on"] == "test" and "validation_error" not in rows[0]
    with h5py.File(path) as h5:
        assert "validation_error" not in h5["metrics/fa"]
        np.testing.assert_allclose(h5["metrics/fa/eta"][()], [0.03, 0.015])
    off = load_model(text=MODEL, overrides=["train.eta_drop_factor=1", "train.images=80"])
    path, rows = run_model(off, str(tmp_path / "off.h5"), show_progress=False, echo=False)
    assert "eta" not in rows[0]
    with h5py.File(path) as h5:
        np.testing.assert_allclose(h5["metrics/fa/eta"][()], [0.03, 0.03])


def test_fixed_schedule_drops_eta_at_its_image_counts_whatever_the_errors(tmp_path):
    """train.eta_drop_at: eta x0.5 once 40 and 100 images are seen, between evaluations as well as at
    them (the weights do not depend on where evaluations fall), and a resumed run goes on alike."""
    fixed = ["data.validation_size=0", "train.eta_drop_at=[40, 100]", "train.images=160",
             "train.checkpoint_min_s=0"]

    def run(name, extra=(), resume=None):
        path, rows = run_model(load_model(text=MODEL, overrides=fixed + list(extra)), str(tmp_path / f"{name}.h5"),
                               show_progress=False, echo=False, resume=resume)
        net, _ = load_checkpoint(str(tmp_path / f"{name}.ckpt.h5"))
        with h5py.File(path) as h5:
            return rows[0], net, {k: h5[f"metrics/fa/{k}"][()] for k in ("examples_seen", "eta", "test_error")}

    row, net, m = run("every40")
    assert row["eta_decided_on"] == "fixed" and row["eta"] == pytest.approx(0.03 / 4)
    np.testing.assert_array_equal(m["examples_seen"], [40, 80, 120, 160])
    np.testing.assert_allclose(m["eta"], [0.015, 0.015, 0.0075, 0.0075])   # eta after each evaluation
    _, net20, m20 = run("every20", ["train.eval_every=20"])
    for a, b in zip(net.weights.WT + net.weights.b, net20.weights.WT + net20.weights.b):
        np.testing.assert_array_equal(a, b)
    _, later, _ = run("at120", ["train.eta_drop_at=[40, 120]"])
    assert not np.array_equal(later.weights.WT[0], net.weights.WT[0])
    run("half", ["train.images=80"])
    _, resumed, m_r = run("resumed", resume=str(tmp_path / "half.ckpt.h5"))
    for k in m:
        np.testing.assert_array_equal(m[k], m_r[k])
    for a, b in zip(net.weights.WT + net.weights.b, resumed.weights.WT + resumed.weights.b):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend, kernel", BACKENDS[1:])
def test_fixed_schedule_trains_alike_on_every_backend(backend, kernel, tmp_path):
    """The schedule lowers eta between kernel blocks (net.eta, checked on cuda under the simulator
    above), so a scheduled run gives the numpy reference's weights within float32 rounding."""
    fixed = ["data.validation_size=0", "train.eta_drop_at=[30, 70]", "train.images=100", "train.eval_every=50",
             "network.streams=2"]

    def weights(*extra):
        name = "-".join(extra).replace("network.", "").replace("=", "_")
        run_model(load_model(text=MODEL, overrides=fixed + list(extra)), str(tmp_path / f"{name}.h5"),
                  show_progress=False, echo=False)
        net, _ = load_checkpoint(str(tmp_path / f"{name}.ckpt.h5"))
        assert net.eta == pytest.approx(0.03 / 4)
        return [np.asarray(net.W[layer]) for layer in range(1, len(net.params.sizes))]

    ref = weights("network.backend=numpy")
    for mine, theirs in zip(weights(f"network.backend={backend}", f"network.cpu_kernel={kernel}"), ref):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("bad, words", [("train.eta_drop_at=[100, 40]", "must rise"),
                                        ("train.eta_drop_factor=1", "set it below 1")])
def test_fixed_schedule_refuses_a_schedule_that_cannot_run(bad, words):
    with pytest.raises(ConfigError, match=words):
        load_model(text=MODEL, overrides=["train.eta_drop_at=[40, 100]", bad])


def test_validation_is_held_out_of_training(tmp_path):
    with pytest.raises(ConfigError, match="validation_size"):
        run_model(load_model(text=MODEL, overrides=["data.validation_size=260"]), str(tmp_path / "v.h5"),
                  show_progress=False, echo=False)
    from spikefa.experiments.spiking import load_data, split_validation

    params = load_model(text=MODEL).params
    X, y, _, _ = load_data(params)
    Xtr, ytr, Xv, yv = split_validation(params, X, y)
    assert len(Xtr) == 200 and np.array_equal(Xv, X[200:]) and np.array_equal(yv, y[200:])


# -- cuda (simulator) ---------------------------------------------------------------------------
CUDA = textwrap.dedent("""
    import warnings
    import numpy as np
    warnings.simplefilter("ignore")   # uint64 wrap-around in the simulated hash is intended
    from spikefa.spiking import SpikingNetwork, SpikingParams
    from spikefa.spiking.network import TEST
    from spikefa.spiking.params import READOUTS
    from spikefa.spiking.state import new_streams
""") + TRACE_TEST + textwrap.dedent("""
    r = np.random.default_rng(0)
    X, y = r.random((3, 20)).astype(np.float32), r.integers(0, 5, 3)
    base = dict(sizes=(20, 16, 12, 10), units_per_class=2, eta=0.05, gamma=1e-3, init_scale=0.3, bias_scale=0.5,
                feedback_scale=0.5, test_streams=2, test_steps=20)
    for readout, carry in (("spikes", False), ("rate", True), ("psp", False)):
        ref = trace_test(SpikingNetwork(SpikingParams(**base, backend="numpy")), X, readout, carry)
        dev = trace_test(SpikingNetwork(SpikingParams(**base, backend="cuda")), X, readout, carry)
        assert_same_test(ref, dev)
    nets = []
    for backend in ("numpy", "cuda"):
        net = SpikingNetwork(SpikingParams(**base, backend=backend, test_readout="rate", test_carry=True))
        net.train(X, y, 1)
        net.eta = 0.01
        net.train(X, y, 1)
        nets.append(net)
    for layer in range(1, 4):
        np.testing.assert_allclose(nets[0].W[layer], nets[1].W[layer], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(nets[0]._vote(X), nets[1]._vote(X), rtol=1e-4, atol=1e-4)
    print("agree")
""")


def _cuda_agrees(simulator: bool) -> None:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1" if simulator else "0"}
    result = subprocess.run([sys.executable, "-c", CUDA], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "agree" in result.stdout


def test_cuda_simulator_agrees():
    _cuda_agrees(simulator=True)


@pytest.mark.skipif(os.environ.get("SPIKEFA_GPU_TESTS") != "1", reason="needs an NVIDIA GPU (SPIKEFA_GPU_TESTS=1)")
def test_real_gpu_agrees():
    _cuda_agrees(simulator=False)


def test_eval_command_takes_the_readout_and_carry(tmp_path):
    """`spikefa eval CKPT --readout rate --carry`: a checkpoint tested another way, with no training."""
    from spikefa import cli
    from spikefa.evaluate import evaluate_checkpoint

    model = load_model(text=MODEL, overrides=["train.images=40", "train.test_readout=spikes"])
    _, rows = run_model(model, str(tmp_path / "e.h5"), show_progress=False, echo=False)
    ckpt = rows[0]["checkpoint"]
    plain = evaluate_checkpoint(ckpt)
    assert (plain["readout"], plain["carry"], plain["test_steps"]) == ("spikes", True, 20)
    other = evaluate_checkpoint(ckpt, readout="rate", carry=False, test_steps=4)
    assert (other["readout"], other["carry"], other["test_steps"]) == ("rate", False, 4)
    net, _ = load_checkpoint(ckpt)
    net.params = net.params.replace(test_readout="rate", test_carry=False, test_steps=4)
    from spikefa.experiments.spiking import load_data

    _, _, Xt, yt = load_data(model.params)
    assert other["error"] == net.test(Xt, yt)
    assert cli.main(["eval", ckpt, "--readout", "psp", "--no-carry", "--test-size", "20"]) == 0


def test_resume_may_test_another_way(tmp_path):
    """test_steps, test_readout and test_carry only change how the network is tested: a checkpoint
    resumes under others, and its training goes on exactly as it would have."""
    base = ["train.eta_drop_factor=1", "data.validation_size=0"]
    run_model(load_model(text=MODEL, overrides=base + ["train.images=40"]), str(tmp_path / "a.h5"),
              show_progress=False, echo=False)
    full_path, _ = run_model(load_model(text=MODEL, overrides=base + ["train.images=80"]), str(tmp_path / "f.h5"),
                             show_progress=False, echo=False)
    other = load_model(text=MODEL, overrides=base + ["train.images=80", "train.test_steps=3",
                                                     'train.test_readout="psp"', "train.test_carry=false"])
    run_model(other, str(tmp_path / "b.h5"), show_progress=False, echo=False, resume=str(tmp_path / "a.ckpt.h5"))
    net, _ = load_checkpoint(str(tmp_path / "b.ckpt.h5"))
    assert (net.params.test_steps, net.params.test_readout, net.params.test_carry) == (3, "psp", False)
    full, _ = load_checkpoint(str(tmp_path / "f.ckpt.h5"))
    for a, b in zip(full.weights.WT + full.weights.b, net.weights.WT + net.weights.b):
        np.testing.assert_array_equal(a, b)
