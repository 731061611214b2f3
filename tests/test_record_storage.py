"""Storage format and reader round trip, RunFile integration, write failures, resume."""

import json
import os

import h5py
import numpy as np
import pytest

import spikefa
from proc_helpers import run_under_cudasim
from spikefa.config import Model
from spikefa.errors import OutputError
from spikefa.record import Recorder, build_recorders, open_run
from spikefa.runfile import RunFile

from record_fakenet import FakeNet

SIZES = [6, 20, 12, 10]


def expected(net, steps, var, layer, units=None, stream=0):
    rows = np.stack([net.state_at(t)[(var, layer)][stream] for t in steps])
    return rows if units is None else rows[:, units]


def record(path, recorders, n_steps, net=None, **kw):
    net = net or FakeNet(SIZES)
    with build_recorders(recorders, net, str(path), **kw):
        net.run(n_steps)
    return net


def test_spikes_are_packed_bits_with_self_describing_attributes(tmp_path):
    path = tmp_path / "run.h5"
    net = record(path, [Recorder(name="r", layers="all", units="all")], 30, block_steps=8,
                 model_params={"network": {"tau": 0.9}})
    with h5py.File(path, "r") as h5:
        g = h5["recordings"]
        assert g.attrs["spikefa_version"] == spikefa.__version__
        assert "time step" in g.attrs["step_meaning"]
        assert json.loads(g.attrs["model_params"]) == {"network": {"tau": 0.9}}
        ds = g["r/layer1/spikes"]
        assert ds.dtype == np.uint8 and ds.shape == (30, (20 + 7) // 8)
        assert ds.chunks is not None and ds.maxshape[0] is None and ds.compression == "gzip"
        assert ds.attrs["encoding"] == "packbits" and ds.attrs["layer"] == 1
        np.testing.assert_array_equal(ds.attrs["units"], np.arange(20))
        bits = np.unpackbits(ds[()], axis=1, count=20)
        np.testing.assert_array_equal(bits, expected(net, range(1, 31), "spikes", 1))
        np.testing.assert_array_equal(g["r/step"][()], np.arange(1, 31))
        assert g["r/step"].dtype == np.int64


def test_reader_round_trip_every_variable(tmp_path):
    path = tmp_path / "run.h5"
    units = [1, 4, 9]
    net = record(path, [Recorder(name="t", layers="all", units=units, every=3,
                                 variables=["spikes", "V", "U", "mod", "error"])], 50, block_steps=4)
    steps = np.arange(3, 51, 3)
    with open_run(str(path)) as rec:
        ix = rec.index()
        np.testing.assert_array_equal(ix["step"], steps)
        np.testing.assert_array_equal(ix["image_count"], (steps - 1) // 5)
        np.testing.assert_array_equal(ix["label"], [net.image_at(t)[2] for t in steps])
        np.testing.assert_array_equal(ix["image"], [net.image_at(t)[1] for t in steps])
        for layer in (1, 2, 3):
            r = rec.raster(layer)
            assert r.dtype == bool and r.shape == (len(steps), 3)
            np.testing.assert_array_equal(r, expected(net, steps, "spikes", layer, units))
            for var in ("V", "U", "mod"):
                tr = rec.trace(var, layer)
                assert tr.dtype == np.float32
                np.testing.assert_array_equal(tr, expected(net, steps, var, layer, units))
        np.testing.assert_array_equal(rec.trace("error", 3, units=[9, 1]),
                                      expected(net, steps, "error", 3, [9, 1]))
        np.testing.assert_array_equal(rec.trace("V", 2, window=(10, 22)),
                                      expected(net, [12, 15, 18, 21], "V", 2, units))
        with pytest.raises(spikefa.errors.ConfigError, match="not recorded"):
            rec.trace("V", 2, units=[2])


def test_event_lists_and_windows(tmp_path):
    path = tmp_path / "run.h5"
    net = record(path, [Recorder(name="ev", layers=[2], units=[0, 5, 11], spike_format="events",
                                 windows=[[1, 3], [6, 7]])], 60, block_steps=3)
    steps = np.r_[6:16, 31:36]
    with open_run(str(path)) as rec:
        np.testing.assert_array_equal(rec.index()["step"], steps)
        want = expected(net, steps, "spikes", 2, [0, 5, 11]).astype(bool)
        np.testing.assert_array_equal(rec.raster(2), want)
        np.testing.assert_array_equal(rec.raster(2, window=1), want[10:])
        assert rec.contents()["ev"]["windows"] == {"images 1-3": (1, 3), "images 6-7": (6, 7)}
    with h5py.File(path, "r") as h5:
        g = h5["recordings/ev/layer2/spikes"]
        assert g.attrs["encoding"] == "events" and g["unit"].shape[0] == want.sum()
        assert set(g["unit"][()]) <= {0, 5, 11}


def test_named_windows_and_streams(tmp_path):
    path = tmp_path / "run.h5"
    net = FakeNet(SIZES, streams=3)
    with build_recorders([Recorder(layers=[1], units=[2, 3], variables=["V"], stream=2, window_images=2,
                                   windows=["early", "middle", "late"])], net, str(path), total_images=60):
        net.run(100)
    with open_run(str(path)) as rec:
        ix = rec.index()
        np.testing.assert_array_equal(ix["image_count"], np.repeat([0, 1, 9, 10, 18, 19], 5))
        np.testing.assert_array_equal(ix["label"], [net.image_at(k, 2)[2] for k in ix["step"]])
        np.testing.assert_array_equal(rec.trace("V", 1, window="middle"),
                                      expected(net, range(46, 56), "V", 1, [2, 3], stream=2))


def test_rate_mode_stores_rates_as_float(tmp_path):
    path = tmp_path / "run.h5"
    net = record(path, [Recorder(layers=[1], units=[0, 1])], 10, net=FakeNet(SIZES, mode="rate"))
    with open_run(str(path)) as rec:
        np.testing.assert_array_equal(rec.trace("spikes", 1), expected(net, range(1, 11), "spikes", 1, [0, 1]))
        with pytest.raises(spikefa.errors.ConfigError, match="rate mode"):
            rec.raster(1)


def test_runfile_holds_recordings_beside_metrics(tmp_path):
    path = str(tmp_path / "run.h5")
    model = Model(experiment="spiking", params={"seed": 0, "record": {}}, source="m.toml")
    out = RunFile(path, model)
    out.declare_metric("fa/test_error")
    net = FakeNet(SIZES)
    build_recorders([Recorder(layers=[3], units=[0])], net, out, block_steps=4)
    net.run(10)
    out.append("fa/test_error", 0.5)          # declared: written live
    out.append("fa/examples_seen", 2)         # undeclared: held until SWMR ends
    out.put("final", np.arange(3))
    with open_run(path) as live:               # readable while open
        assert len(live.index()["step"]) >= 8
    out.set_summary(error=0.5)
    out.set_status("finished")
    out.close()
    with h5py.File(path, "r") as h5:          # an ordinary file again
        assert h5.attrs["status"] == "finished" and h5["summary"].attrs["error"] == 0.5
        assert h5["metrics/fa/test_error"][()].tolist() == [0.5]
        assert h5["metrics/fa/examples_seen"][()].tolist() == [2]
        assert h5["results/final"][()].tolist() == [0, 1, 2]
        assert h5["recordings/rec0/step"].shape == (10,)
        assert json.loads(h5["recordings"].attrs["model_params"]) == model.params


def test_failed_write_stops_with_output_error_and_keeps_the_file(tmp_path, monkeypatch):
    path = tmp_path / "run.h5"
    net = FakeNet(SIZES)
    rec = build_recorders([Recorder(layers=[1], variables=["V"])], net, str(path), block_steps=5)
    net.run(12)
    rec.flush()
    calls = {"n": 0}
    real = h5py.Dataset.__setitem__

    def failing(self, key, value):
        calls["n"] += 1
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(h5py.Dataset, "__setitem__", failing)
    with pytest.raises(OutputError, match=r"writing recordings failed.*No space left.*samples up to step 12 are kept"):
        net.run(5)
    monkeypatch.setattr(h5py.Dataset, "__setitem__", real)
    net.run(5)                                  # a failed recording records no more
    rec.close()
    with open_run(str(path)) as r:
        np.testing.assert_array_equal(r.index()["step"], np.arange(1, 13))


@pytest.mark.parametrize("n_steps", [12, 5000])
def test_rows_a_failed_write_extended_but_never_filled_are_not_samples(tmp_path, n_steps):
    """A full disk can leave data sets longer than what was written; those rows read as zeros."""
    path = tmp_path / "run.h5"
    net = record(path, [Recorder(layers=[2], variables=["V", "spikes"])], n_steps, block_steps=5)
    with h5py.File(path, "a") as h5:
        g = h5["recordings/" + list(h5["recordings"])[0]]
        for ds in [g[f] for f in ("step", "image", "label", "image_count")] + [g["layer2/V"], g["layer2/spikes"]]:
            ds.resize(ds.shape[0] + 3, axis=0)      # extended, as the failed write left them; never filled
    with open_run(str(path)) as rec:
        np.testing.assert_array_equal(rec.index()["step"], np.arange(1, n_steps + 1))
        np.testing.assert_array_equal(rec.trace("V", 2, window=(n_steps, n_steps + 1)),
                                      expected(net, [n_steps], "V", 2))
        assert rec.raster(2).shape[0] == n_steps


def test_resume_into_a_new_file_joins_without_gap_or_repeat(tmp_path):
    a, b = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    recs = [Recorder(name="r", layers="all", units=[0, 3], variables=["spikes", "V"], every=2),
            Recorder(name="e", layers=[2], spike_format="events")]
    record(a, recs, 47, block_steps=4)        # the run died after step 47; its checkpoint after step 30
    net = FakeNet(SIZES)
    net.resume_at(30)
    with build_recorders(recs, net, b, resume_step=True, continues=a, block_steps=4):
        net.run(40)
    with open_run([b, a]) as rec:
        np.testing.assert_array_equal(rec.index("r")["step"], np.arange(2, 71, 2))
        np.testing.assert_array_equal(rec.index("e")["step"], np.arange(1, 71))
        np.testing.assert_array_equal(rec.trace("V", 3), expected(net, range(2, 71, 2), "V", 3, [0, 3]))
        np.testing.assert_array_equal(rec.raster(2, recorder="e"), expected(net, range(1, 71), "spikes", 2))
        np.testing.assert_array_equal(rec.raster(2, recorder="e", window=(25, 35)),
                                      expected(net, range(25, 35), "spikes", 2))
    with h5py.File(b, "r") as h5:
        assert h5["recordings"].attrs["first_step"] == 31 and h5["recordings"].attrs["continues"] == a
    with open_run(b, follow=True) as rec:
        np.testing.assert_array_equal(rec.index("e")["step"], np.arange(1, 71))


def test_resume_into_the_same_file_trims_past_the_checkpoint(tmp_path):
    a = str(tmp_path / "a.h5")
    recs = [Recorder(name="r", layers=[1, 3], units=[0, 3], variables=["spikes", "mod"]),
            Recorder(name="e", layers=[1], spike_format="events")]
    record(a, recs, 47, block_steps=4)
    net = FakeNet(SIZES)
    net.resume_at(30)
    with build_recorders(recs, net, a, resume_step=31, block_steps=4):
        net.run(20)
    with open_run(a) as rec:
        np.testing.assert_array_equal(rec.index("r")["step"], np.arange(1, 51))
        np.testing.assert_array_equal(rec.trace("mod", 3), expected(net, range(1, 51), "mod", 3, [0, 3]))
        np.testing.assert_array_equal(rec.raster(1, recorder="e"), expected(net, range(1, 51), "spikes", 1))
    with pytest.raises(spikefa.errors.ConfigError, match="same recorder"):
        build_recorders([Recorder(name="r", layers=[1, 3], units=[0, 4]), recs[1]], FakeNet(SIZES), a,
                        resume_step=30)


def test_flush_interval_bounds_unwritten_time(tmp_path):
    path = str(tmp_path / "run.h5")
    net = FakeNet(SIZES)
    rec = build_recorders([Recorder(layers=[1])], net, path, block_steps=10_000, flush_interval_s=0.01)
    net.run(3)
    import time
    time.sleep(0.02)
    net.run(1)                                  # the clock has passed: this step flushes
    with open_run(path) as r:
        assert len(r.index()["step"]) == 4
    rec.close()
    assert os.path.getsize(path) > 0


CUDA_FAKE = r"""
import sys
sys.path.insert(0, {tests!r})
import numpy as np
from numba import cuda
from record_fakenet import FakeNet
from spikefa.record import Recorder, build_recorders, open_run

class DeviceNet(FakeNet):
    backend = "cuda"
    def run(self, n):
        for _ in range(n):
            self.step += 1
            self._state = {{k: cuda.to_device(v) for k, v in self.state_at(self.step).items()}}
            self.images_seen, self.image_index, self.label = self.image_at(self.step)
            for obs in list(self.observers):
                obs.on_step(self)

recs = [Recorder(name="a", layers="all", units="all", variables=["spikes", "V", "error"]),
        Recorder(name="b", layers=[2], units=[1, 7], variables=["mod", "spikes"], spike_format="events", every=2)]
for cls, name in ((FakeNet, "host"), (DeviceNet, "device")):
    net = cls([6, 20, 12, 10], streams=2)
    with build_recorders(recs, net, {tmp!r} + "/" + name + ".h5", block_steps=5):
        net.run(12)
with open_run({tmp!r} + "/host.h5") as h, open_run({tmp!r} + "/device.h5") as d:
    assert d.attrs["backend"] == "cuda"
    for layer in (1, 2, 3):
        assert np.array_equal(h.raster(layer, recorder="a"), d.raster(layer, recorder="a"))
        assert np.array_equal(h.trace("V", layer, recorder="a"), d.trace("V", layer, recorder="a"))
    assert np.array_equal(h.trace("error", 3), d.trace("error", 3))
    assert np.array_equal(h.raster(2, recorder="b"), d.raster(2, recorder="b"))
    assert np.array_equal(h.trace("mod", 2, recorder="b"), d.trace("mod", 2, recorder="b"))
    assert len(d.index("a")["step"]) == 12
print("same")
"""


def test_device_arrays_are_gathered_on_the_device_and_match_host(tmp_path):
    res = run_under_cudasim(CUDA_FAKE, tmp_path, timeout=120)
    assert res.returncode == 0 and res.stdout.strip().endswith("same"), res.stderr[-3000:]


def test_recording_a_step_allocates_no_arrays(tmp_path):
    import tracemalloc
    net = FakeNet([6, 20000, 12, 10])
    rec = build_recorders([Recorder(name="all", layers=[1], variables=["spikes", "V"]),
                           Recorder(name="some", layers="all", units=5, variables=["V", "U", "mod"])],
                          net, str(tmp_path / "run.h5"), block_steps=400, flush_interval_s=3600)
    net.run(1)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    for _ in range(300):                 # within one block: no write, only the per-step copy
        net.step += 1
        rec.on_step(net)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert peak < 20_000, f"{peak} bytes allocated while recording (one layer row is 80,000)"
    rec.close()
    with open_run(str(tmp_path / "run.h5")) as r:
        assert len(r.index("all")["step"]) == 301
