"""spikefa plot of a sweep folder and of a run with its resumed continuations; the confusion figure."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from matplotlib.figure import Figure

from plot_helpers import assert_figure
from spikefa.cli import main as cli_main
from spikefa.plot import confusion, learning, metrics, sources
from spikefa.runfile import RunFile

TINY = ["--set", "train.images=400", "--set", "train.eval_every=200", "--set", "data.synthetic_train=500",
        "--set", "data.synthetic_test=100"]


def _curve_file(path, xs, level, arm="fa"):
    with RunFile(str(path)) as out:
        out.h5.attrs["title"] = "joined"
        for x in xs:
            out.append(f"{arm}/examples_seen", x)
            out.append(f"{arm}/test_error", level + x / 1e5)
    return str(path)


def test_a_run_and_its_continuation_join_with_no_gap_and_no_repeat(tmp_path):
    # the continuation holds only what came after its checkpoint (3000 images): the first file's
    # rows up to there, then the continuation's
    a = _curve_file(tmp_path / "x.h5", range(0, 6000, 1000), 0.5)
    b = _curve_file(tmp_path / "x.r1.h5", range(3000, 9000, 1000), 0.2)
    for given in ([a, b], [a], [b]):         # named, or found beside either file
        src = sources.resolve(given)
        assert isinstance(src, sources.Source) and src.chain == [a, b]
        with metrics.open_file(src) as h5:
            x = h5["metrics/fa/examples_seen"][()]
            err = h5["metrics/fa/test_error"][()]
        assert list(x) == list(range(0, 9000, 1000))
        assert np.allclose(err, np.where(x < 3000, 0.5, 0.2) + x / 1e5)
    # a continuation that copied the curve so far (the spiking experiment's) replaces those rows
    c = _curve_file(tmp_path / "y.h5", range(1000, 4000, 1000), 0.5)
    d = _curve_file(tmp_path / "y.r1.h5", range(1000, 7000, 1000), 0.2)
    with metrics.open_file(sources.resolve([c, d])) as h5:
        assert list(h5["metrics/fa/examples_seen"][()]) == list(range(1000, 7000, 1000))
    assert sources.resolve(str(tmp_path / "y.h5")).out_dir() == str(tmp_path / "y_figures")
    # a file on its own stays a plain path
    single = _curve_file(tmp_path / "z.h5", range(3), 0.1)
    assert sources.resolve(single) == single and not isinstance(sources.resolve(single), sources.Source)


def test_a_resumed_spiking_run_plots_as_one_curve_with_its_confusion(tmp_path, capsys):
    run, new = tmp_path / "run.h5", tmp_path / "new.h5"
    assert cli_main(["run", "--no-progress", "--out", str(run), *TINY, "--set", "train.checkpoint_min_s=0"]) == 0
    assert cli_main(["run", "--no-progress", "--out", str(new), *TINY, "--set", "train.images=800",
                     "--resume", str(tmp_path / "run.ckpt.h5")]) == 0
    capsys.readouterr()
    assert cli_main(["plot", str(run), str(new)]) == 0
    printed = capsys.readouterr().out
    assert f"one run from {run}, {new}" in printed
    figures = tmp_path / "run_figures"
    assert_figure([str(figures / "learning_curves.png"), str(figures / "learning_curves.pdf")],
                  learning.WIDTH, learning.HEIGHT)
    with metrics.open_file(sources.resolve([str(run), str(new)])) as h5:
        x = h5["metrics/fa/examples_seen"][()]
        assert list(x) == [200, 400, 600, 800]               # no gap, no repeat
        c = h5["results/fa/confusion"][()]
        rates = h5["results/fa/firing_rate"][()]
        assert h5["results/fa/confusion"].attrs["examples_seen"] == 800
        assert c.shape == (10, 10) and c.sum() == 100
        assert np.isclose(1 - np.trace(c) / 100, h5["metrics/fa/test_error"][-1])
        assert rates.shape == (4,) and np.all((rates > 0) & (rates < 1))
    assert (figures / "confusion.png").is_file() and (figures / "confusion.pdf").is_file()


def test_a_sweep_folder_draws_one_curve_per_value_over_its_seeds(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert cli_main(["sweep", os.path.join(os.path.dirname(__file__), "..", "spikefa", "models", "default.toml"),
                     "--seeds", "2", "--workers", "1", "--no-progress", "--out", str(out),
                     "--set", "network.tau=0.5,0.9", *TINY]) == 0
    capsys.readouterr()
    assert cli_main(["plot", str(out)]) == 0
    assert (out / "figures" / "learning_curves.png").is_file()
    with metrics.open_file(str(out)) as h5:
        found = metrics.arms_with(h5, "test_error")
        assert sorted(found) == ["tau=0.5", "tau=0.9"]
        assert all(len(groups) == 2 for groups in found.values())          # two seeds each
        index = json.load(open(out / "sweep.json"))
        for arm, groups in found.items():
            tasks = [t for t in index["tasks"] if arm == f"tau={t['settings']['network.tau']}"]
            expected = []
            for t in tasks:
                with metrics.open_file(str(out / t["out"])) as run:
                    expected.append(run["metrics/fa/test_error"][()])
            s = metrics.series(groups, "test_error")
            assert np.allclose(s.mean(), np.mean(expected, axis=0))
        fig = Figure()
        ax = fig.subplots()
        learning.draw_curves(ax, found, "test_error")
        assert sorted(line.get_label() for line in ax.lines) == ["tau=0.5 (n=2)", "tau=0.9 (n=2)"]
        assert len(ax.collections) == 2                                   # a band each
        c = h5["results/tau=0.9/confusion"]                               # the seeds' last evaluations
        assert c.attrs["seeds"] == 2 and c[()].sum() == 2 * 100
    assert (out / "figures" / "confusion.png").is_file()


def test_confusion_figure_and_per_class_error(tmp_path):
    c = np.array([[8, 2, 0], [0, 5, 5], [0, 0, 0]])
    assert np.allclose(confusion.per_class_error(c)[:2], [0.2, 0.5]) and np.isnan(confusion.per_class_error(c)[2])
    path = str(tmp_path / "c.h5")
    with RunFile(path) as out:
        out.put("fa/confusion", np.eye(10, dtype=np.int64) * 9 + 1, attrs={"examples_seen": 100})
        out.put("fa/firing_rate", [0.1, 0.3, 0.2, 0.05])
        out.put("bp/confusion", np.eye(10, dtype=np.int64) * 5)
    with metrics.open_file(path) as h5:
        assert sorted(confusion.found(h5)) == ["bp", "fa"]
    paths = confusion.draw(path, str(tmp_path / "figs"))
    assert_figure(paths, confusion.MATRIX_W + confusion.RATES_W, 2 * confusion.ROW_H)


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_evaluate_counts_what_test_guesses(backend):
    from spikefa.data import synthetic
    from spikefa.spiking import SpikingNetwork, SpikingParams

    X, y = synthetic.load("train", 300, n_classes=10, size=12, seed=0)
    Xt, yt = synthetic.load("test", 70, n_classes=10, size=12, seed=0)
    net = SpikingNetwork(SpikingParams(sizes=[144, 60, 100], units_per_class=10, backend=backend, seed=2,
                                       eta=0.03, test_streams=16))
    net.train(X, y, 300)
    ev = net.evaluate(Xt, yt)
    assert ev.error == net.test(Xt, yt)                   # the same draws, step by step
    assert ev.confusion.sum() == 70 and np.array_equal(ev.confusion.sum(axis=1), np.bincount(yt, minlength=10))
    assert ev.firing_rate.shape == (3,) and np.isclose(ev.firing_rate[0], np.minimum(Xt, 0.95).mean(), atol=0.02)
