"""spikefa export: recordings to NWB, SONATA and Neo, read back by those formats' own tools and
compared exactly with open_run; bad input fails with one line and leaves nothing behind."""

import json
import os
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest

from spikefa import cli
from spikefa.config import Model, load_model
from spikefa.errors import ConfigError, OutputError
from spikefa.record import Recorder, build_recorders, open_run
from spikefa.record.export import DEFAULT_DT, RecordingSource, export_run, neo_block
from spikefa.runfile import RunFile

from proc_helpers import reaped
from record_fakenet import FakeNet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [6, 20, 12, 10]
N = 5                                     # FakeNet's steps per image
PARAMS = {"seed": 3, "network": {"sizes": SIZES, "tau": 0.9}, "train": {"steps_per_image": N}}
RECORDERS = [
    # two windows of 3 images each, every variable of layers 1-3
    Recorder(name="raster", layers="all", units=[0, 2, 5], variables=["spikes", "V", "mod"],
             windows=[[0, 3], [6, 9]]),
    Recorder(name="events", layers=[1], units=[1, 2, 7], spike_format="events"),   # overlaps raster in layer 1
    Recorder(name="psp", layers=[2], units=[4, 9], variables=["U"], every=2),
    Recorder(name="input", layers=[0], units="all"),
]
WORKER = os.path.join(os.path.dirname(__file__), "record_worker.py")


def record(path, n_steps, net=None, recorders=RECORDERS, **kw):
    net = net or FakeNet(SIZES)
    with build_recorders(recorders, net, str(path), model_params=PARAMS, block_steps=7, **kw):
        net.run(n_steps)
    return net


@pytest.fixture
def run_file(tmp_path):
    path = tmp_path / "run.h5"
    record(path, 60)
    return str(path)


def spikes_by_unit(rec, recorder, layer):
    """{unit: steps it spiked at} from open_run: what every export must reproduce."""
    steps = rec.index(recorder)["step"]
    raster = rec.raster(layer, recorder=recorder)
    return {int(u): steps[raster[:, j]] for j, u in enumerate(rec.units(layer, recorder=recorder))}


def spike_channels(rec):
    return [(name, layer) for name, c in rec.contents().items() for layer, lay in c["layers"].items()
            if "spikes" in lay["variables"]]


def trace_channels(rec):
    return [(name, layer, var) for name, c in rec.contents().items() for layer, lay in c["layers"].items()
            for var in lay["variables"] if var != "spikes"]


# -- NWB -------------------------------------------------------------------------------------------
def read_nwb(path):
    pynwb = pytest.importorskip("pynwb")
    io = pynwb.NWBHDF5IO(str(path), "r")
    return io, io.read()


def series_steps(ts, dt):
    times = ts.timestamps[:] if ts.timestamps is not None else ts.starting_time + np.arange(ts.data.shape[0]) / ts.rate
    return np.rint(np.asarray(times) / dt).astype(np.int64)


def check_nwb_matches(path, rec, dt):
    io, nwb = read_nwb(path)
    try:
        units = nwb.units
        assert units.resolution == dt
        rows = {(units["recorder"][i], int(units["layer"][i]), int(units["unit_index"][i])): i
                for i in range(len(units))}
        n_rows = 0
        for name, layer in spike_channels(rec):
            for unit, steps in spikes_by_unit(rec, name, layer).items():
                i = rows[name, layer, unit]
                np.testing.assert_array_equal(units["spike_times"][i], steps * dt)    # exact: k * dt
                assert units["stream"][i] == 0
                obs = np.asarray(units["obs_intervals"][i])
                t = steps * dt
                inside = np.zeros(len(t), bool)
                for a, b in obs:
                    inside |= (t >= a) & (t < b)
                assert inside.all()
                n_rows += 1
        assert n_rows == len(units)
        for name, layer, var in trace_channels(rec):
            ts = nwb.acquisition[f"{name}_layer{layer}_{var}"]
            np.testing.assert_array_equal(ts.data[:], rec.trace(var, layer, recorder=name))
            np.testing.assert_array_equal(series_steps(ts, dt), rec.index(name)["step"])
            assert json.loads(ts.comments)["units"] == [int(u) for u in rec.units(layer, recorder=name, var=var)]
        return nwb.intervals["image_presentations"].to_dataframe(), json.loads(nwb.notes)
    finally:
        io.close()


def test_nwb_reads_back_to_the_same_spikes_traces_and_presentations(run_file):
    out = export_run(run_file, "nwb")
    assert out == run_file[:-3] + ".nwb"
    with open_run(run_file) as rec:
        table, notes = check_nwb_matches(out, rec, DEFAULT_DT)
        ix = rec.index("raster")
    assert notes["seed"] == 3 and notes["dt_s"] == DEFAULT_DT and notes["params"] == PARAMS
    assert "k * dt" in notes["time"]
    # every image the raster recorder saw, at its N steps [c N + 1, (c + 1) N + 1)
    counts = np.unique(ix["image_count"])
    got = table[table.image_count.isin(counts)]
    np.testing.assert_array_equal(got.image_count, counts)
    np.testing.assert_allclose(got.start_time, (counts * N + 1) * DEFAULT_DT)
    np.testing.assert_allclose(got.stop_time, ((counts + 1) * N + 1) * DEFAULT_DT)
    net = FakeNet(SIZES)
    np.testing.assert_array_equal(got.image_index, [net.image_at(c * N + 1)[1] for c in counts])
    np.testing.assert_array_equal(got.label, [net.image_at(c * N + 1)[2] for c in counts])
    assert set(table.phase) == {"train"}


def test_nwb_passes_nwbinspector(run_file):
    nwbinspector = pytest.importorskip("nwbinspector")
    out = export_run(run_file, "nwb", dt=1e-4)
    messages = list(nwbinspector.inspect_nwbfile(nwbfile_path=out))
    bad = [m for m in messages if m.importance in (nwbinspector.Importance.CRITICAL, nwbinspector.Importance.ERROR,
                                                    nwbinspector.Importance.PYNWB_VALIDATION)]
    assert not bad, bad
    # the one violation left: a simulated network has no species to name
    violations = [m.check_function_name for m in messages
                  if m.importance == nwbinspector.Importance.BEST_PRACTICE_VIOLATION]
    assert violations in ([], ["check_subject_species_exists"]), violations


# -- SONATA ----------------------------------------------------------------------------------------
def sonata_expected(rec, layer, dt):
    """Spikes of a layer from every recorder that sampled it, each (step, unit) once, by time."""
    pairs = set()
    for name, lay in spike_channels(rec):
        if lay == layer:
            for unit, steps in spikes_by_unit(rec, name, layer).items():
                pairs.update((int(s), unit) for s in steps)
    pairs = sorted(pairs)
    return np.array([s for s, _ in pairs]) * dt * 1e3, np.array([u for _, u in pairs], dtype=np.uint64)


def test_sonata_spikes_per_layer_population(run_file, tmp_path):
    dt = 2e-3
    out = export_run(run_file, "sonata", out=tmp_path / "x.spikes.h5", dt=dt)
    with h5py.File(out, "r") as h5, open_run(run_file) as rec:
        assert sorted(h5["spikes"]) == ["layer0", "layer1", "layer2", "layer3"]
        for layer in range(4):
            g = h5["spikes"][f"layer{layer}"]
            assert h5py.check_enum_dtype(g.attrs.get_id("sorting").dtype) == {"none": 0, "by_id": 1, "by_time": 2}
            assert g.attrs["sorting"] == 2
            assert g["timestamps"].attrs["units"] == "ms"
            assert g["node_ids"].dtype == np.uint64
            times, nodes = sonata_expected(rec, layer, dt)
            assert len(times)
            np.testing.assert_array_equal(g["timestamps"][()], times)
            # within a step the order of nodes is free: compare as (time, node) pairs
            got = sorted(zip(g["timestamps"][()], g["node_ids"][()]))
            assert got == sorted(zip(times, nodes))
    libsonata = pytest.importorskip("libsonata")
    reader = libsonata.SpikeReader(out)
    pop = reader["layer1"]
    assert pop.sorting == "by_time"
    with open_run(run_file) as rec:
        times, nodes = sonata_expected(rec, 1, dt)
    got = sorted((float(t), int(n)) for n, t in pop.get())
    assert got == sorted(zip(times.tolist(), nodes.astype(int).tolist()))


# -- Neo -------------------------------------------------------------------------------------------
def check_neo_block(blk, rec, dt):
    for seg in blk.segments:
        a, b = seg.annotations["start_step"], seg.annotations["stop_step"]
        for st in seg.spiketrains:
            ann = st.annotations
            steps = rec.index(ann["recorder"])["step"]
            raster = rec.raster(ann["layer"], recorder=ann["recorder"])
            col = list(rec.units(ann["layer"], recorder=ann["recorder"])).index(ann["unit"])
            want = steps[raster[:, col] & (steps >= a) & (steps < b)]
            np.testing.assert_array_equal(st.rescale("s").magnitude, want * dt)
            if len(want):
                assert st.t_start.rescale("s").magnitude <= want[0] * dt < st.t_stop.rescale("s").magnitude
        for sig in list(seg.analogsignals) + list(seg.irregularlysampledsignals):
            ann = sig.annotations
            steps = rec.index(ann["recorder"])["step"]
            keep = (steps >= a) & (steps < b)
            want = rec.trace(ann["variable"], ann["layer"], recorder=ann["recorder"])[keep]
            np.testing.assert_array_equal(sig.magnitude, want)
            np.testing.assert_array_equal(np.rint(sig.times.rescale("s").magnitude / dt).astype(int), steps[keep])
            np.testing.assert_array_equal(sig.array_annotations["unit"],
                                          rec.units(ann["layer"], recorder=ann["recorder"], var=ann["variable"]))
            assert str(sig.units.dimensionality) == "dimensionless"


def test_neo_block_has_a_segment_per_window(run_file, tmp_path):
    pytest.importorskip("neo")
    blk = neo_block(run_file)
    # the raster declares two windows; events, psp and input record everything, merged into one
    with RecordingSource(run_file) as src:
        assert len(blk.segments) == len(src.segments()) >= 1
    assert blk.annotations["seed"] == 3 and blk.annotations["dt_s"] == DEFAULT_DT
    with open_run(run_file) as rec:
        check_neo_block(blk, rec, DEFAULT_DT)
    kinds = {(st.annotations["recorder"], st.annotations["layer"]) for s in blk.segments for st in s.spiketrains}
    assert ("raster", 3) in kinds and ("input", 0) in kinds
    assert all(ep.name == "image_presentations" for s in blk.segments for ep in s.epochs)


def test_neo_windows_become_segments(tmp_path):
    neo = pytest.importorskip("neo")
    path = tmp_path / "w.h5"
    record(path, 60, recorders=[Recorder(name="r", layers=[1, 2], units=[0, 3], variables=["spikes", "V"],
                                         windows=[[0, 2], [5, 7], [10, 12]])])
    out = export_run(str(path), "neo")
    blk = neo.io.PickleIO(out).read_block()
    assert [s.name for s in blk.segments] == ["images 0-2", "images 5-7", "images 10-12"]
    with open_run(str(path)) as rec:
        check_neo_block(blk, rec, DEFAULT_DT)
    assert all(len(s.analogsignals) == 2 and len(s.spiketrains) == 4 for s in blk.segments)   # layers 1, 2
    pytest.importorskip("nixio")
    nix = export_run(str(path), "neo", out=tmp_path / "w.nix")
    io = neo.io.NixIO(nix, mode="ro")
    try:
        back = io.read_block()
        assert [s.name for s in back.segments] == [s.name for s in blk.segments]
        x, y = back.segments[1].spiketrains[0], blk.segments[1].spiketrains[0]
        np.testing.assert_array_equal(x.magnitude, y.magnitude)
        assert x.annotations["layer"] == y.annotations["layer"] and x.annotations["unit"] == y.annotations["unit"]
    finally:
        io.close()


def test_elephant_script_draws_its_figure(run_file, tmp_path, capsys):
    pytest.importorskip("elephant")
    import importlib.util

    spec = importlib.util.spec_from_file_location("elephant_rates", os.path.join(ROOT, "scripts", "elephant_rates.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    pkl = export_run(run_file, "neo")
    assert script.main([pkl, "--out", str(tmp_path / "e.png")]) == 0
    assert os.path.getsize(tmp_path / "e.png") > 1000 and os.path.isfile(tmp_path / "e.pdf")
    assert "rate Hz" in capsys.readouterr().out


# -- one timeline: resumed and killed runs ---------------------------------------------------------
def test_a_resumed_run_exports_as_one_timeline(tmp_path):
    pytest.importorskip("pynwb")
    a, b, full = (str(tmp_path / n) for n in ("a.h5", "b.h5", "full.h5"))
    record(full, 60)
    record(a, 40)                                   # stopped after step 40; checkpoint at step 30
    net = FakeNet(SIZES)
    net.resume_at(30)
    with build_recorders(RECORDERS, net, b, model_params=PARAMS, block_steps=7, resume_step=True, continues=a):
        net.run(30)
    for fmt in ("nwb", "sonata"):
        joined = export_run(b, fmt, out=str(tmp_path / f"joined.{fmt}"), follow=True)
        whole = export_run(full, fmt, out=str(tmp_path / f"whole.{fmt}"))
        if fmt == "sonata":
            with h5py.File(joined, "r") as x, h5py.File(whole, "r") as y:
                for pop in y["spikes"]:
                    for ds in ("timestamps", "node_ids"):
                        np.testing.assert_array_equal(x["spikes"][pop][ds][()], y["spikes"][pop][ds][()])
        else:
            with open_run([a, b]) as rec:
                check_nwb_matches(joined, rec, DEFAULT_DT)
            with open_run(full) as rec:
                check_nwb_matches(joined, rec, DEFAULT_DT)      # the joined run is the uninterrupted one


def test_a_killed_run_exports_what_it_flushed(tmp_path):
    path = tmp_path / "run.h5"
    proc = subprocess.Popen([sys.executable, WORKER, str(path), "0.05"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    with reaped(proc):
        assert proc.stdout.readline().strip() == "started", proc.stderr.read()
        for _ in range(3):
            assert proc.stdout.readline().startswith("flushed")
        out = export_run(str(path), "sonata")       # live: exports what was flushed so far
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    with h5py.File(out, "r") as h5:
        assert h5["spikes/layer1/timestamps"].shape[0] > 0
    killed = export_run(str(path), "sonata", out=tmp_path / "killed.spikes.h5")
    with h5py.File(killed, "r") as h5, open_run(str(path)) as rec:
        times, _ = sonata_expected(rec, 1, DEFAULT_DT)
        np.testing.assert_array_equal(h5["spikes/layer1/timestamps"][()], times)


# -- the command line, end to end, and bad input ---------------------------------------------------
RUN_MODEL = """
experiment = "spiking"
seed = 5
[network]
sizes = [144, 24, 16, 20]
units_per_class = 2
backend = "numpy"
[data]
dataset = "synthetic"
synthetic_train = 60
synthetic_test = 20
[train]
images = 30
eval_every = 30
[[record.recorders]]
name = "hidden"
layers = "hidden"
units = 5
windows = ["early", "late"]
window_images = 4
[[record.recorders]]
name = "traces"
layers = [1]
units = 2
variables = ["V", "mod"]
windows = ["early", "late"]
window_images = 4
"""


def spikefa(*argv):
    return cli.main(list(argv))


def test_cli_exports_a_real_run_in_every_format(tmp_path, capsys):
    from spikefa.runner import run_model

    path, _ = run_model(load_model(text=RUN_MODEL), str(tmp_path / "r.h5"), show_progress=False, echo=False)
    capsys.readouterr()
    for fmt, suffix in (("nwb", ".nwb"), ("sonata", ".spikes.h5"), ("neo", ".neo.pkl")):
        pytest.importorskip({"nwb": "pynwb", "sonata": "h5py", "neo": "neo"}[fmt])
        assert spikefa("export", path, "--to", fmt, "--dt", "0.0005") == 0
        assert os.path.isfile(path[:-3] + suffix)
        assert f"{fmt}: {path[:-3] + suffix}" in capsys.readouterr().out
    with open_run(path) as rec:
        table, notes = check_nwb_matches(path[:-3] + ".nwb", rec, 0.0005)
    assert notes["seed"] == 5 and notes["params"]["network"]["sizes"] == [144, 24, 16, 20]
    assert len(table) == 8          # two windows of four images
    assert set(table.image_count) == {0, 1, 2, 3, 26, 27, 28, 29}


def one_line_error(capsys, *argv):
    code = spikefa(*argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    return err


def no_leftovers(folder, keep):
    assert sorted(os.listdir(folder)) == sorted(keep)


def test_bad_input_fails_with_one_line_and_leaves_nothing(run_file, tmp_path, capsys):
    folder = os.path.dirname(run_file)
    before = sorted(os.listdir(folder))
    # unknown format
    assert "unknown export format 'matlab'; use --to nwb, sonata, neo" in one_line_error(
        capsys, "export", run_file, "--to", "matlab")
    # a file with no recordings
    bare = tmp_path / "bare.h5"
    RunFile(str(bare), Model(experiment="spiking", params={"seed": 0}, source="t")).close()
    err = one_line_error(capsys, "export", str(bare), "--to", "sonata")
    assert "holds no recordings" in err and "[record]" in err
    before.append("bare.h5")
    # an existing destination without --overwrite: untouched
    dest = tmp_path / "exists.spikes.h5"
    dest.write_bytes(b"keep me")
    before.append("exists.spikes.h5")
    err = one_line_error(capsys, "export", run_file, "--to", "sonata", "--out", str(dest))
    assert "already exists; pass --overwrite" in err and dest.read_bytes() == b"keep me"
    assert spikefa("export", run_file, "--to", "sonata", "--out", str(dest), "--overwrite") == 0
    assert h5py.is_hdf5(dest)
    # an unwritable place: a folder that is a file, a folder that does not exist
    err = one_line_error(capsys, "export", run_file, "--to", "sonata", "--out", str(dest / "x.spikes.h5"))
    assert "does not exist" in err
    err = one_line_error(capsys, "export", run_file, "--to", "sonata", "--out", str(tmp_path / "no" / "x.h5"))
    assert "create it or choose another --out" in err
    # a bad dt, an output onto the input
    assert "positive" in one_line_error(capsys, "export", run_file, "--to", "sonata", "--dt", "0")
    assert "being exported" in one_line_error(capsys, "export", run_file, "--to", "sonata", "--out", run_file,
                                              "--overwrite")
    no_leftovers(folder, before)


def test_a_failed_write_leaves_nothing_at_the_destination(run_file, tmp_path, monkeypatch):
    from spikefa.record.export import sonata

    def fail_midway(src, path):
        with h5py.File(path, "w") as h5:
            h5["half"] = np.zeros(10)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sonata, "write", fail_midway)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(OutputError, match="writing failed.*nothing was left"):
        export_run(run_file, "sonata", out=tmp_path / "x.spikes.h5")
    no_leftovers(tmp_path, before)

    def interrupted(src, path):
        open(path, "wb").close()
        raise KeyboardInterrupt

    monkeypatch.setattr(sonata, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_run(run_file, "sonata", out=tmp_path / "x.spikes.h5")
    no_leftovers(tmp_path, before)


def test_a_missing_extra_names_the_extra(run_file, monkeypatch, capsys):
    for fmt, module in (("nwb", "pynwb"), ("neo", "neo")):
        monkeypatch.setitem(sys.modules, module, None)      # import fails as if not installed
        err = one_line_error(capsys, "export", run_file, "--to", fmt)
        assert f'pip install -e ".[{fmt}]"' in err and module in err
    with pytest.raises(ConfigError, match=r"spikefa\[nwb\]"):
        export_run(run_file, "nwb")


def test_the_command_states_the_library_default_dt():
    from spikefa.commands import export as command

    assert command.DEFAULT_DT == DEFAULT_DT == 1e-3


def test_a_plain_import_never_loads_the_format_libraries():
    code = ("import sys, spikefa.cli, spikefa.record, spikefa.record.export; spikefa.cli.build_parser(); "
            "print(sorted({'pynwb', 'hdmf', 'nwbinspector', 'neo', 'elephant', 'quantities', 'nixio', 'libsonata'}"
            " & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_rate_mode_and_a_second_stream(tmp_path):
    """Rate-mode spikes are probabilities: traces in NWB, nothing for SONATA; stream 1 is its own population."""
    rate = tmp_path / "rate.h5"
    record(rate, 20, net=FakeNet(SIZES, mode="rate"), recorders=[Recorder(name="r", layers=[1], units=[0, 3])])
    with pytest.raises(ConfigError, match="no spikes were recorded"):
        export_run(str(rate), "sonata")
    assert not os.path.exists(str(rate)[:-3] + ".spikes.h5")
    io, nwb = read_nwb(export_run(str(rate), "nwb"))
    with io, open_run(str(rate)) as rec:
        np.testing.assert_array_equal(nwb.acquisition["r_layer1_spikes"].data[:], rec.trace("spikes", 1))
        assert nwb.units is None
    streams = tmp_path / "streams.h5"
    record(streams, 20, net=FakeNet(SIZES, streams=2),
           recorders=[Recorder(name="s0", layers=[2], units=[1, 4]), Recorder(name="s1", layers=[2], units=[1, 4],
                                                                              stream=1)])
    out = export_run(str(streams), "sonata")
    net = FakeNet(SIZES, streams=2)
    with h5py.File(out, "r") as h5:
        assert sorted(h5["spikes"]) == ["layer2", "layer2_stream1"]
        for pop, s in (("layer2", 0), ("layer2_stream1", 1)):
            want = [(t * DEFAULT_DT * 1e3, u) for t in range(1, 21) for u in (1, 4)
                    if net.state_at(t)[("spikes", 2)][s][u]]
            got = list(zip(h5["spikes"][pop]["timestamps"][()], h5["spikes"][pop]["node_ids"][()]))
            assert got == want
