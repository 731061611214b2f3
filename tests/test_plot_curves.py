"""Learning-curve and alignment figures drawn headless from small run files written here."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
from matplotlib.figure import Figure

from plot_helpers import assert_figure
from spikefa import plot
from spikefa.cli import main as cli_main
from spikefa.errors import ConfigError, DataError
from spikefa.plot import alignment, learning, metrics
from spikefa.runfile import RunFile

EVALS = 6


def _write_classification(path):
    """bp and fa with three seeds each, shallow with one, as the rate MNIST experiment names them."""
    rng = np.random.default_rng(0)
    with RunFile(path) as out:
        out.h5.attrs["title"] = "test classification"
        for arm, seeds, level in (("bp", 3, 0.05), ("fa", 3, 0.04), ("shallow", 1, 0.3)):
            for k in range(seeds):
                prefix = f"{arm}/seed{k}/" if seeds > 1 else f"{arm}/"
                for i in range(EVALS):
                    out.append(prefix + "examples_seen", 1000 * i)
                    out.append(prefix + "test_error", level + 0.5 / (i + 1) + 0.01 * rng.random())
    return path


def _write_regression(path, n=40):
    """A linear-task run: NSE per arm, delta angles per example (raw and sliding), weight angles."""
    rng = np.random.default_rng(1)
    with RunFile(path) as out:
        for i in range(n):
            for arm in ("bp", "fa"):
                out.append(f"{arm}/examples_seen", 10 * i)
                out.append(f"{arm}/nse", np.exp(-i / 10) + 1e-3)
            angle = 90 * np.exp(-i / 15) + 20 + rng.normal(0, 3)
            out.append("fa/angle_delta", angle)
            out.append("fa/angle_delta_mean", angle)
            out.append("fa/angle_delta_std", 3.0)
            out.append("fa/angle_W_BT", 90 - i)
            out.append("fa/angle_W_pinvB", 90 - 1.2 * i)
            out.append("fa/angle_units", 90 - i + rng.normal(0, 5, size=30))
    return path


def _write_phases(path, per_phase=10):
    with RunFile(path) as out:
        for p in (1, 2, 3):
            for i in range(per_phase):
                n = (p - 1) * per_phase + i
                out.append("fa/examples_seen", 100 * n)
                out.append("fa/phase", p)
                out.append("fa/nse", 1.0 if p == 1 else 1.0 / (1 + i) if p == 2 else 0.1 / (1 + i))
    return path


@pytest.fixture()
def classification(tmp_path):
    return _write_classification(str(tmp_path / "cls.h5"))


@pytest.fixture()
def regression(tmp_path):
    return _write_regression(str(tmp_path / "reg.h5"))


def test_arms_found_with_seeds_and_nesting(tmp_path, classification):
    with h5py.File(classification, "r") as h5:
        found = metrics.arms(h5)
    assert list(found) == ["bp", "fa", "shallow"]
    assert [len(g) for g in found.values()] == [3, 3, 1]

    nested = str(tmp_path / "nested.h5")
    with RunFile(nested) as out:
        out.append("tau0.5/spiking/examples_seen", 0)
        out.append("tau0.5/spiking/test_error", 0.5)
        out.append("test_error", 0.4)
    with h5py.File(nested, "r") as h5:
        assert set(metrics.arms(h5)) == {"", "tau0.5/spiking"}


def test_learning_curves_draw_the_seed_mean(classification):
    with h5py.File(classification, "r") as h5:
        found = metrics.arms_with(h5, "test_error")
        fig = Figure()
        ax = fig.subplots()
        assert learning.draw_curves(ax, found, "test_error") is False      # errors within a decade: linear
        assert len(ax.lines) == 3
        expected = np.mean([h5[f"metrics/fa/seed{k}/test_error"][()] for k in range(3)], axis=0) * 100
        x = h5["metrics/fa/seed0/examples_seen"][()]
    fa_line = ax.lines[1]
    np.testing.assert_allclose(fa_line.get_ydata(), expected)
    np.testing.assert_allclose(fa_line.get_xdata(), x)
    assert ax.get_xlabel() == "examples seen" and "%" in ax.get_ylabel()
    assert len(ax.collections) == 2         # spread bands for the two multi-seed arms only


def test_learning_curve_figure_files(tmp_path, classification):
    paths = learning.draw(classification, str(tmp_path / "figs"))
    assert_figure(paths, learning.WIDTH, learning.HEIGHT)


def test_errors_spanning_decades_use_geometric_statistics(tmp_path):
    path = str(tmp_path / "decades.h5")
    with RunFile(path) as out:
        for k, final in enumerate((1e-6, 1e-4)):
            for i, v in enumerate((1.0, 1e-2, final)):
                out.append(f"fa/seed{k}/examples_seen", i)
                out.append(f"fa/seed{k}/nse", v)
    with h5py.File(path, "r") as h5:
        fig = Figure()
        ax = fig.subplots()
        assert learning.draw_curves(ax, metrics.arms(h5), "nse") is True
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 1e-2, 1e-5])
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() > 0                       # never below zero, unlike mean - s.d. (1e-5 - 7e-5)
    np.testing.assert_allclose(band.min(), 1e-5 / np.exp(np.std(np.log([1e-6, 1e-4]), ddof=1)), rtol=1e-6)


def test_seeds_of_unequal_length_are_cut_to_the_shortest(tmp_path):
    path = str(tmp_path / "ragged.h5")
    with RunFile(path) as out:
        for k, n in enumerate((5, 3)):
            for i in range(n):
                out.append(f"fa/seed{k}/examples_seen", i)
                out.append(f"fa/seed{k}/nse", 1.0 / (i + 1))
    with h5py.File(path, "r") as h5:
        s = metrics.series(metrics.arms(h5)["fa"], "nse")
    assert s.values.shape == (2, 3) and list(s.x) == [0, 1, 2]


def test_weight_angle_panel_shows_the_recorded_units(tmp_path, regression):
    alignment.MAX_UNIT_LINES, saved = 7, alignment.MAX_UNIT_LINES
    try:
        captured = {}
        real_save = alignment.style.save

        def grab(fig, out_dir, stem):
            captured["fig"] = fig
            return real_save(fig, out_dir, stem)
        alignment.style.save = grab
        alignment.draw_weights(regression, str(tmp_path))
    finally:
        alignment.MAX_UNIT_LINES = saved
        alignment.style.save = real_save
    ax = captured["fig"].axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels.count("single hidden units") == 1
    unit_lines = [line for line in ax.lines if line.get_linewidth() == 0.5]
    assert len(unit_lines) == 7
    with h5py.File(regression, "r") as h5:
        np.testing.assert_allclose(unit_lines[3].get_ydata(), h5["metrics/fa/angle_units"][:, 3])
        whole = next(line for line in ax.lines if line.get_label() == "W vs B$^T$")
        np.testing.assert_allclose(whole.get_ydata(), h5["metrics/fa/angle_W_BT"][()])


def test_phase_figure_marks_each_phase(tmp_path):
    path = _write_phases(str(tmp_path / "ph.h5"))
    paths = alignment.draw_phases(path, str(tmp_path / "figs"))
    assert_figure(paths, alignment.WIDTH * 1.2, alignment.HEIGHT)
    with h5py.File(path, "r") as h5:
        x = h5["metrics/fa/examples_seen"][()]
        phase = h5["metrics/fa/phase"][()].astype(int)
    spans = alignment._phase_spans(x.astype(float), phase)
    assert [p for p, _, _ in spans] == [1, 2, 3]
    assert spans[0][1] == 0 and spans[-1][2] == x[-1]
    # phase 2's training starts after phase 1's last evaluation
    assert spans[0][2] == spans[1][1] == x[9] and spans[1][2] == spans[2][1] == x[19]


def test_missing_data_names_what_records_it(tmp_path, classification):
    with pytest.raises(DataError, match="angle_delta.*fig2_linear"):
        alignment.draw_delta(classification, str(tmp_path))
    with pytest.raises(DataError, match="angle_W_BT"):
        plot.plot(classification, str(tmp_path), ["weight_angle"])
    with pytest.raises(DataError, match="phase"):
        plot.plot(classification, str(tmp_path), ["phases"])
    with pytest.raises(DataError, match="not found"):
        plot.plot(str(tmp_path / "nothing.h5"), str(tmp_path), ["learning"])
    with pytest.raises(ConfigError, match="unknown figure 'rastr'"):
        plot.plot(classification, str(tmp_path), ["rastr"])


def test_plot_all_draws_only_what_the_file_has(tmp_path, regression):
    written = plot.plot_all(regression)
    assert set(written) == {"learning", "delta_angle", "weight_angle"}
    assert_figure(written["learning"], learning.WIDTH, learning.HEIGHT)      # one panel: NSE only
    assert_figure(written["delta_angle"], alignment.WIDTH, alignment.HEIGHT)
    assert_figure(written["weight_angle"], alignment.WIDTH, alignment.HEIGHT)
    folder = os.path.splitext(regression)[0] + "_figures"
    for paths in written.values():
        assert all(os.path.dirname(p) == folder and os.path.getsize(p) > 0 for p in paths)


def test_cli_plot_lists_what_it_wrote(tmp_path, classification, capsys):
    out = str(tmp_path / "cli")
    assert cli_main(["plot", classification, "--out", out]) == 0
    printed = capsys.readouterr().out
    assert os.path.join(out, "learning_curves.png") in printed
    assert cli_main(["plot", classification, "--only", "delta_angle"]) == 2
    assert "angle_delta" in capsys.readouterr().err
