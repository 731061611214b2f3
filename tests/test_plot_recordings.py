"""Raster and trace figures drawn headless from small spiking runs recorded in the test."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from plot_helpers import assert_figure
from spikefa import plot
from spikefa.config import dumps
from spikefa.errors import DataError
from spikefa.plot import raster, recorded, traces
from spikefa.record import Recorder, build_recorders, open_run
from spikefa.runfile import RunFile
from spikefa.spiking import SpikingNetwork, SpikingParams

SIZES = (16, 60, 56, 40)        # 4x4 input, two hidden layers, 10 classes x 4 output units
IMAGES = 60
TRACE_UNITS = [2, 5]


def _record(path, mode="spiking", windows=("early", "middle", "late"), first_step=0):
    gen = np.random.default_rng(0)
    labels = gen.integers(0, 10, 30)
    images = np.clip(gen.random((30, SIZES[0]), dtype=np.float32) * 0.5 + (labels[:, None] % 4 == np.arange(16) % 4) * 0.5,
                     0, 1).astype(np.float32)
    net = SpikingNetwork(SpikingParams(sizes=SIZES, units_per_class=4, backend="numpy", mode=mode, steps_per_image=3,
                                       seed=2, eta=0.05))
    net.step = first_step           # a recording late in a long run: six-digit step numbers
    # as a Figure 4 run declares them: 50 random units per hidden layer, every output unit, the input
    recorders = [Recorder(name="hidden", layers="hidden", units=50, windows=list(windows), window_images=10),
                 Recorder(name="output", layers="output", windows=list(windows), window_images=10),
                 Recorder(name="wide", layers=[1], units="all", windows=list(windows), window_images=10),
                 Recorder(name="input", layers=[0], windows=list(windows), window_images=10),
                 Recorder(name="traces", layers=[1], units=TRACE_UNITS, variables=["V", "mod"],
                          windows=list(windows), window_images=10)]
    with build_recorders(recorders, net, str(path), total_images=IMAGES,
                         model_params={"network": {"units_per_class": 4}}):
        net.train(images, labels, n_images=IMAGES)
    return str(path)


@pytest.fixture(scope="module")
def spiking_run(tmp_path_factory):
    return _record(tmp_path_factory.mktemp("rec") / "spiking.h5")


def _marks(fig, gid):
    found = [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection) and c.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0]


def test_raster_marks_equal_the_recorded_spikes(spiking_run):
    fig = raster.build(spiking_run, images=4)
    with open_run(spiking_run) as rec:
        primary, sources = raster.layer_sources(rec)
        assert primary == "hidden" and sources == {1: "hidden", 2: "hidden", 3: "output"}
        cols = recorded.columns(rec, primary, 4)
        assert [c.name for c in cols] == ["early", "middle", "late"]
        total = 0
        for col in cols:
            assert len(np.unique(col.index["image_count"])) == 4
            for layer in (1, 2, 3):
                spikes = rec.raster(layer, window=(col.first_step, col.stop_step), recorder=sources[layer])
                units = rec.units(layer, recorder=sources[layer])
                keep = np.arange(units.size) if layer == 3 else raster.shown_units(units, raster.UNITS_PER_HIDDEN, layer)
                expected = int(spikes[:, keep].sum())
                marks = _marks(fig, f"{col.name}|layer{layer}")
                assert len(marks.get_paths()) == expected
                total += expected
                # each mark sits on the step and row of a recorded spike
                centres = np.array([p.vertices[:4].mean(axis=0) for p in marks.get_paths()])
                t, u = np.nonzero(spikes[:, keep])
                np.testing.assert_allclose(centres[:, 0], col.index["step"][t])
                np.testing.assert_allclose(centres[:, 1], u)
        assert total > 100
        # a recorder with more than 50 units of a hidden layer is shown 50 of them
        assert rec.units(1, recorder="wide").size == 60
        assert raster.shown_units(rec.units(1, recorder="wide"), raster.UNITS_PER_HIDDEN, 1).size == 50


def test_raster_groups_output_units_by_class(spiking_run):
    fig = raster.build(spiking_run, images=4)
    out_ax = _marks(fig, "early|layer3").axes
    assert [t.get_text() for t in out_ax.get_yticklabels()] == [str(c) for c in range(10)]
    np.testing.assert_allclose(out_ax.get_yticks(), np.arange(10) * 4 + 1.5)


def test_raster_digit_strip_shows_the_mean_input(spiking_run):
    fig = raster.build(spiking_run, images=4)
    strip = fig.axes[0]
    shown = strip.images
    assert len(shown) == 4
    with open_run(spiking_run) as rec:
        col = recorded.columns(rec, "hidden", 4)[0]
        spikes = rec.raster(0, window=(col.first_step, col.stop_step), recorder="input")
    a, b, _, _ = recorded.image_bounds(col.index)[0]
    np.testing.assert_allclose(shown[0].get_array(), spikes[:b - a].mean(axis=0).reshape(4, 4))


def test_traces_draw_the_recorded_psp_and_modulation(spiking_run):
    fig = traces.build(spiking_run, images=3)
    lines = {line.get_gid(): line for ax in fig.axes for line in ax.lines if line.get_gid()}
    with open_run(spiking_run) as rec:
        for col in recorded.columns(rec, "traces", 3):
            window = (col.first_step, col.stop_step)
            for row, var in enumerate(("V", "mod")):
                for unit in TRACE_UNITS:
                    want = rec.trace(var, 1, units=[unit], window=window, recorder="traces")[:, 0]
                    line = lines[f"{col.name}|unit{unit}|{row}"]
                    np.testing.assert_array_equal(line.get_ydata(), want)
                    np.testing.assert_array_equal(line.get_xdata(), col.index["step"])


@pytest.mark.parametrize("windows", [("early", "middle", "late"), ("late",)])
def test_digits_keep_their_shape_and_step_numbers_are_plain(tmp_path, windows):
    """One column is three times as wide as one of three: digits must not stretch with it."""
    path = _record(tmp_path / f"w{len(windows)}.h5", windows=windows)
    fig = raster.build(path, images=4)
    fig.canvas.draw()
    strip = fig.axes[0]
    x0, x1, y0, y1 = strip.images[0].get_extent()
    (px0, py0), (px1, py1) = strip.transData.transform([(x0, y0), (x1, y1)])
    assert abs(px1 - px0) <= 1.1 * abs(py1 - py0)
    bottom = fig.axes[-1]
    assert not bottom.xaxis.get_major_formatter().get_offset()


def test_step_labels_never_touch_late_in_a_long_run(tmp_path):
    """Late windows of a long run sit at six-digit steps: each axis's tick labels stay apart."""
    path = _record(tmp_path / "late.h5", first_step=1_234_000)
    for fig in (raster.build(path, images=8), traces.build(path, images=8)):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else fig._get_renderer()
        labelled = 0
        for ax in (ax for ax in fig.axes if ax.axison):     # the digit strips draw no axes
            boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
            labelled += bool(boxes)
            boxes.sort(key=lambda b: b.x0)
            assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])), [t.get_text() for t in ax.get_xticklabels()]
            if boxes:       # plain step numbers, no 1e6 mark in a corner
                steps = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
                assert all(int(text) >= 1_234_000 for text in steps), steps
                assert not ax.xaxis.get_offset_text().get_text()
        assert labelled >= 3


def test_columns_split_a_whole_run_recording(tmp_path):
    path = _record(tmp_path / "whole.h5", windows=())
    with open_run(path) as rec:
        cols = recorded.columns(rec, "hidden", 5)
    assert [c.name for c in cols] == ["early", "middle", "late"]
    firsts = [int(c.index["image_count"][0]) for c in cols]
    lasts = [int(c.index["image_count"][-1]) for c in cols]
    assert firsts[0] == 0 and lasts[-1] == IMAGES - 1 and firsts[1] == round((IMAGES - 5) / 2)


def test_missing_recordings_name_the_recorder_setting(tmp_path):
    bare = str(tmp_path / "bare.h5")
    with RunFile(bare) as out:
        out.append("spiking/examples_seen", 0)
        out.append("spiking/test_error", 0.9)
    with pytest.raises(DataError, match=r"\[record\].*\"spikes\""):
        plot.plot(bare, str(tmp_path), ["raster"])
    with pytest.raises(DataError, match=r"\"V\", \"mod\""):
        plot.plot(bare, str(tmp_path), ["traces"])
    rate = _record(tmp_path / "rate.h5", mode="rate")
    with pytest.raises(DataError, match="rate mode"):
        raster.draw(rate, str(tmp_path))
    assert set(plot.available(rate)) == {"traces"}


def test_plot_all_on_a_recorded_run_writes_raster_and_traces(tmp_path, spiking_run):
    written = plot.plot_all(spiking_run, str(tmp_path / "all"))
    assert set(written) == {"raster", "traces"}
    assert_figure(written["raster"], raster.WIDTH, raster.height(2))
    assert_figure(written["traces"], traces.WIDTH, traces.height(len(TRACE_UNITS)))


SPIKING_MODEL = dumps({
    "experiment": "spiking", "seed": 4,
    "network": {"sizes": [36, 50, 20], "units_per_class": 2, "eta": 0.05, "backend": "numpy"},
    "data": {"dataset": "synthetic", "synthetic_grid": 6, "synthetic_train": 100, "synthetic_test": 20},
    "train": {"images": 40, "eval_every": 20, "steps_per_image": 2, "test_steps": 2},
    "record": {"recorders": [{"name": "all", "layers": "all", "windows": ["early", "late"], "window_images": 5}]},
})


def test_spiking_experiment_run_draws_digits_from_its_data(tmp_path):
    from spikefa.experiments.spiking import load_data
    from spikefa.runner import run_file

    model = tmp_path / "spiking.toml"
    model.write_text(SPIKING_MODEL)
    path, _ = run_file(str(model), str(tmp_path / "run.h5"), show_progress=False, echo=False)
    assert set(plot.available(path)) == {"learning", "raster", "confusion"}
    fig = raster.build(path, images=3)
    with open_run(path) as rec:
        images = load_data(rec.model_params())[0]
        cols = recorded.columns(rec, "all", 3)
    assert [c.name for c in cols] == ["early", "late"]
    for ax, col in zip([a for a in fig.axes if a.images], cols):
        shown = [index for _, _, _, index in recorded.image_bounds(col.index)]
        assert len(ax.images) == 3
        for im, index in zip(ax.images, shown):
            np.testing.assert_array_equal(im.get_array(), images[index].reshape(6, 6))
