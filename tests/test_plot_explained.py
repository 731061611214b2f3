"""Figures that explain themselves: chance and test-set size on learning curves, bands that say what
they span, distinguishable Figure 2 arms, no empty plot before the first evaluation, `plot --list`."""

import h5py
import pytest

from spikefa import cli, plot
from spikefa.errors import DataError
from spikefa.experiments.compare import describes
from spikefa.plot import learning, style
from spikefa.runfile import RunFile
from spikefa.runner import DEFAULT_MODEL, run_file


@pytest.fixture()
def captured(monkeypatch):
    """The figures drawing functions save, kept for inspection."""
    figs = []
    real = style.save

    def keep(fig, out_dir, stem):
        figs.append(fig)
        return real(fig, out_dir, stem)

    monkeypatch.setattr(style, "save", keep)
    return figs


def test_plot_list_works_without_a_file(capsys):
    assert cli.main(["plot", "--list"]) == 0
    out = capsys.readouterr().out
    for kind in plot.KINDS:
        assert kind in out
    assert out.count("needs ") == len(plot.KINDS)


def test_no_learning_plot_before_the_first_evaluation(tmp_path):
    path = str(tmp_path / "young.h5")
    with RunFile(path) as out:
        out.declare_metric("fa/examples_seen")
        out.declare_metric("fa/test_error")
    assert "learning" not in plot.available(path)
    with pytest.raises(DataError, match="first evaluation"):
        learning.draw(path, str(tmp_path / "figs"))


def test_learning_curve_shows_chance_and_the_test_set_size(tmp_path, captured):
    out = str(tmp_path / "demo.h5")
    run_file(DEFAULT_MODEL, out, quick=True, show_progress=False, echo=False)
    learning.draw(out, str(tmp_path / "figs"))
    (ax,) = captured[0].axes
    chance = [line for line in ax.lines if line.get_gid() == "chance"]
    assert chance and chance[0].get_ydata()[0] == pytest.approx(90.0)       # 10 classes
    with h5py.File(out, "r") as h5:
        assert "test images" in ax.get_title() and ax.get_title().split()[1].isdigit()
        assert h5.attrs["experiment"] == "spiking"


def test_bands_over_seeds_say_so(tmp_path, captured):
    path = str(tmp_path / "seeds.h5")
    with RunFile(path) as out:
        for k in range(3):
            for i in range(4):
                out.append(f"fa/seed{k}/examples_seen", 100 * i)
                out.append(f"fa/seed{k}/test_error", 0.5 / (i + 1) + 0.01 * k)
    learning.draw(path, str(tmp_path / "figs"))
    assert "over seeds" in captured[0]._suptitle.get_text()


def test_figure2_shallow_and_node_perturbation_are_distinguishable():
    looks = style.arm_styles(["bp", "fa", "shallow", "node_perturbation"])
    assert looks["shallow"] != looks["node_perturbation"]
    assert looks["shallow"][0] != looks["node_perturbation"][0]       # not two greys
    assert looks["shallow"][1] != looks["node_perturbation"][1]       # and not one dash either


@pytest.mark.parametrize("spiking, rate, verdict", [
    (0.90, 0.90, "n/a (both at chance)"),
    (0.89, 0.91, "n/a (both at chance)"),
    (0.10, 0.11, "yes"),
    (0.10, 0.20, "no"),
    (0.90, 0.20, "no"),
])
def test_rate_describes_is_not_yes_at_chance(spiking, rate, verdict):
    assert describes(spiking, rate, tolerance=0.02, chance=0.9) == verdict
