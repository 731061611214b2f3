"""What README shows runs as written: its reader snippet on the model file it names, the --set
examples of `spikefa run --help`, and its statement about rate mode with tau = 1, N = 1."""

import os
import re

import numpy as np
import pytest

from spikefa.commands.run import SET_EXAMPLES
from spikefa.config import load_model
from spikefa.runner import DEFAULT_MODEL, run_file
from spikefa.spiking import SpikingNetwork, SpikingParams

ROOT = os.path.join(os.path.dirname(__file__), "..")
README = open(os.path.join(ROOT, "README.md")).read()


def python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def reader_snippet():
    (block,) = [b for b in python_blocks(README) if "open_run(" in b]
    return block


def test_reader_snippet_runs_on_a_fig4_run(tmp_path, monkeypatch, mnist_dir):
    monkeypatch.setenv("SPIKEFA_MNIST", mnist_dir)
    snippet = reader_snippet()
    named = re.search(r'open_run\("([^"]+)"\)', snippet).group(1)
    assert "models/fig4_spiking.toml" in snippet       # the model file the snippet is for
    run = tmp_path / os.path.basename(named)
    run_file(os.path.join(ROOT, "models", "fig4_spiking.toml"), str(run), quick=True, show_progress=False,
             echo=False)
    scope = {}
    exec(snippet.replace(f'"{named}"', repr(str(run))), scope)
    assert scope["raster"].dtype == bool and scope["raster"].ndim == 2
    assert scope["v"].shape[1] == 1 and scope["v"].dtype == np.float32


def test_unrecorded_units_are_named_as_plain_integers(tmp_path):
    from spikefa.errors import ConfigError
    from spikefa.record import open_run

    from spikefa.runner import run_model

    run = tmp_path / "r.h5"
    model = load_model(DEFAULT_MODEL, quick=True, overrides=[
        'record.recorders=[{name = "t", layers = [1], units = 2, variables = ["V"]}]'])
    run_model(model, str(run), quick=True, show_progress=False, echo=False)
    with open_run(str(run)) as rec:
        recorded = rec.units(1, var="V")
        absent = next(u for u in range(200) if u not in set(recorded.tolist()))
        with pytest.raises(ConfigError) as err:
            rec.trace("V", 1, units=[absent])
    assert "np.int" not in str(err.value) and str(int(recorded[0])) in str(err.value)


@pytest.mark.parametrize("example, models", [
    (m.group(1), m.group(2).split(", ")) for m in re.finditer(r"(--set \S+) \(([^)]*)\)", SET_EXAMPLES)])
def test_help_set_examples_work_on_the_models_they_name(example, models):
    for name in models:
        path = DEFAULT_MODEL if name == "the default model" else os.path.join(ROOT, "models", name + ".toml")
        load_model(path, overrides=[example.split(" ", 1)[1]])


def _one_rate_step(phi):
    p = SpikingParams(sizes=(12, 9, 7, 6), units_per_class=2, mode="rate", tau=1.0, steps_per_image=1, phi=phi,
                      gamma=0.0, eta=0.5, bias_scale=0.2, init_scale=0.5, feedback_scale=0.5, backend="numpy",
                      shuffle=False, seed=4)
    net = SpikingNetwork(p)
    W = [None] + [w.astype(np.float64) for w in net.W[1:]]
    b = [None] + [v.astype(np.float64) for v in net.b[1:]]
    B = net.B
    x = np.random.default_rng(1).random((1, 12)).astype(np.float32)
    x[0, :3] = 1.0                                   # above the 0.95 cap
    label = 2
    net.train(x, np.array([label]), 1)
    return net, W, b, B, x[0], label


def test_rate_mode_with_tau_1_and_one_step_is_per_example_fa_with_linear_phi():
    """README: rate mode, tau = 1, N = 1, phi = "linear" is one per-example FA update of a logistic net."""
    net, W, b, B, x, label = _one_rate_step("linear")
    sig = lambda a: 1 / (1 + np.exp(-a))            # noqa: E731
    h = [np.minimum(x, 0.95).astype(np.float64)]
    a = [None]
    for l in (1, 2, 3):
        a.append(W[l] @ h[-1] + b[l])
        h.append(sig(a[l]))
    target = np.zeros(6)
    target[label * 2:(label + 1) * 2] = 1
    U = {3: target - h[3]}
    for l in (2, 1):
        U[l] = B[l] @ U[l + 1]
    for l in (1, 2, 3):
        D = U[l] * h[l] * (1 - h[l])
        np.testing.assert_allclose(net.W[l], W[l] + 0.5 * np.outer(D, h[l - 1]), rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(net.b[l], b[l] + 0.5 * D, rtol=2e-5, atol=2e-6)


def test_with_tanh_phi_the_same_step_is_a_different_rule():
    net_lin, *_ = _one_rate_step("linear")
    net_tanh, *_ = _one_rate_step("tanh")
    assert not np.allclose(net_lin.W[1], net_tanh.W[1], rtol=1e-4, atol=1e-6)
