"""Recorders say when they next need the network (next_step); training runs compiled blocks up to it.

Every recording here is compared with the same run where the recorder is called after every step
(wrapped in an observer without next_step, which is what training did before): the samples, their
steps and images, and the windows must be bit-identical, on every backend.
"""

import json
import os

import h5py
import numpy as np
import pytest

from proc_helpers import run_under_cudasim
from spikefa.record import Recorder, build_recorders, open_run

spiking = pytest.importorskip("spikefa.spiking.network")
from spikefa.spiking.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from spikefa.spiking.params import SpikingParams  # noqa: E402

SIZES = (16, 12, 10, 20)
N = 3                       # steps per image


def data(n=60, seed=0):
    gen = np.random.default_rng(seed)
    return gen.random((n, SIZES[0]), dtype=np.float32), gen.integers(0, 10, n)


def make(backend="cpu", streams=1, **kw):
    return spiking.SpikingNetwork(SpikingParams(sizes=SIZES, units_per_class=2, backend=backend, streams=streams,
                                                steps_per_image=N, seed=5, eta=0.05, **kw))


def recorders(stream=0):
    return [
        Recorder(name="named", layers="all", variables=["spikes", "V"], windows=["early", "middle", "late"],
                 window_images=3, stream=stream),
        Recorder(name="every2", layers=[1, 3], units=[0, 5], variables=["V", "mod", "error"], every=2,
                 windows=[[2, 5], [9, 11]], stream=stream),
        # every = 7 is longer than some windows (6 steps): a window may hold one sample or none
        Recorder(name="sparse", layers=[0, 2], units=3, seed=2, variables=["spikes", "U"], every=7,
                 windows=[[4, 6], [12, 14], [15, 16]], spike_format="events", stream=stream),
        Recorder(name="whole", layers=[2], units=[1, 2], variables=["V"], every=5, stream=stream),
    ]


class EveryStep:
    """The recorder as an observer without next_step: called after every step, as before."""

    def __init__(self, inner):
        self.inner = inner

    def on_step(self, net):
        self.inner.on_step(net)


class Counting:
    """The recorder with next_step, counting the steps it is called at."""

    def __init__(self, inner):
        self.inner, self.steps = inner, []

    def next_step(self, net):
        return self.inner.next_step(net)

    def on_step(self, net):
        self.steps.append(net.step)
        self.inner.on_step(net)


def record(path, net, n_images, total_images=None, every_step=False, chunks=(None,), stream=0, recs=None,
           direct=False, block_steps=8, sampled=None):
    """Train ``net`` on ``n_images`` images (in train calls of ``chunks`` images) while recording:
    through EveryStep or Counting, or (``direct``) the Recording as build_recorders attaches it.
    Returns the observer and the steps of each backend call; ``sampled`` (a list) gets, for each
    call, whether the call took the samples itself (record/compiled.py)."""
    X, y = data()
    rec = build_recorders(recs or recorders(stream), net, str(path), total_images=total_images or n_images,
                          block_steps=block_steps)
    obs = rec
    if not direct:
        net.remove_observer(rec)
        obs = EveryStep(rec) if every_step else Counting(rec)
        net.add_observer(obs)
    calls, sampled = [], [] if sampled is None else sampled
    run = net.backend.run
    # a[6]: steps in the call
    net.backend.run = lambda *a, **k: calls.append(a[6]) or sampled.append(k.get("samples") is not None) or run(*a, **k)
    done = 0
    for chunk in chunks:
        chunk = n_images - done if chunk is None else chunk
        net.train(X, y, n_images=chunk)
        done += chunk
    net.backend.run = run
    if not direct:
        net.remove_observer(obs)
        rec.net = None
    rec.close()
    return obs, calls


def contents(path):
    """Every data set and attribute under /recordings (the creation time left out)."""
    out = {}

    def visit(name, node):
        for key, value in node.attrs.items():
            if key != "created":
                out[f"{name}@{key}"] = value
        if isinstance(node, h5py.Dataset):
            out[name] = node[()]

    with h5py.File(path, "r") as h5:
        visit("recordings", h5["recordings"])
        h5["recordings"].visititems(lambda name, node: visit("recordings/" + name, node))
    return out


def assert_same(a, b):
    ca, cb = contents(a), contents(b)
    assert sorted(ca) == sorted(cb)
    for key in ca:
        x, y = np.asarray(ca[key]), np.asarray(cb[key])
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), key


def assert_same_weights(n1, n2):
    for a, b in zip(n1.W[1:], n2.W[1:]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(n1.V[1:], n2.V[1:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend, kernel", [("numpy", "auto"), ("cpu", "spike-rows"), ("cpu", "gemm")])
def test_blocks_record_what_every_step_records(tmp_path, backend, kernel):
    ref, blk = make(backend, cpu_kernel=kernel), make(backend, cpu_kernel=kernel)
    _, ref_calls = record(tmp_path / "ref.h5", ref, 40, every_step=True)
    obs, calls = record(tmp_path / "blk.h5", blk, 40)
    assert_same(tmp_path / "ref.h5", tmp_path / "blk.h5")
    assert_same_weights(ref, blk)
    assert ref.step == blk.step == 120 and ref.images_seen == blk.images_seen == 40
    with open_run(str(tmp_path / "blk.h5")) as rec:
        wanted = sorted(set().union(*(rec.index(r)["step"].tolist() for r in ("named", "every2", "sparse", "whole"))))
        np.testing.assert_array_equal(rec.index("named")["step"], np.r_[1:10, 55:64, 112:121])
        np.testing.assert_array_equal(rec.index("every2")["step"], np.r_[8:16:2, 28:34:2])
        np.testing.assert_array_equal(rec.index("sparse")["step"], [14, 42])
        np.testing.assert_array_equal(rec.index("whole")["step"], np.arange(5, 121, 5))
    assert obs.steps == wanted                 # called only at the steps it records
    assert ref_calls == [1] * 120              # before: one compiled call per step
    assert len(calls) < 75 and sum(calls) == 120 and max(calls) > 1


def test_streams_windows_of_one_streams_images_and_resumed_train_calls(tmp_path):
    """Three streams, stream 1 recorded; windows count its images; training in calls of 9 and 12
    images (not multiples of the streams, so slots are rounded up) continues the windows."""
    ref, blk = make("cpu", streams=3), make("cpu", streams=3)
    record(tmp_path / "ref.h5", ref, 48, total_images=48, every_step=True, chunks=(9, 12, 27), stream=1)
    obs, calls = record(tmp_path / "blk.h5", blk, 48, total_images=48, chunks=(9, 12, 27), stream=1)
    assert_same(tmp_path / "ref.h5", tmp_path / "blk.h5")
    assert_same_weights(ref, blk)
    with open_run(str(tmp_path / "blk.h5")) as rec:
        ix = rec.index("named")                     # 16 images per stream: windows 0-3, 6-9 (middle), 13-16
        np.testing.assert_array_equal(np.unique(ix["image_count"]), [0, 1, 2, 6, 7, 8, 13, 14, 15])
        np.testing.assert_array_equal(ix["step"], np.r_[1:10, 19:28, 40:49])
    assert len(calls) < len(obs.steps) + 30


def test_resume_from_a_checkpoint_in_the_middle_of_a_window(tmp_path):
    """Stopped after 5 images (inside the window [2, 5) of 'every2' and 'named' 'early' [0, 3) is
    past), checkpointed, resumed into a new file: joined, the same as a run never stopped."""
    X, y = data()
    ref = make("cpu")
    record(tmp_path / "ref.h5", ref, 30, every_step=True)
    a, b, ckpt = str(tmp_path / "a.h5"), str(tmp_path / "b.h5"), str(tmp_path / "a.ckpt.h5")
    net = make("cpu")
    with build_recorders(recorders(), net, a, total_images=30, block_steps=8):
        net.train(X, y, n_images=4)                # window [2, 5) of every2 is open: images 2, 3 recorded
        save_checkpoint(net, ckpt)
    net2, _ = load_checkpoint(ckpt)
    with build_recorders(recorders(), net2, b, total_images=30, resume_step=True, continues=a, block_steps=8):
        net2.train(X, y, n_images=26)
    assert_same_weights(ref, net2)
    with open_run(str(tmp_path / "ref.h5")) as r, open_run([a, b]) as j:
        for name in ("named", "every2", "sparse", "whole"):
            for field, want in r.index(name).items():
                np.testing.assert_array_equal(j.index(name)[field], want, err_msg=f"{name} {field}")
        np.testing.assert_array_equal(j.index("every2")["step"], np.r_[8:16:2, 28:34:2])
        for layer in (1, 2, 3):
            np.testing.assert_array_equal(j.raster(layer, recorder="named"), r.raster(layer, recorder="named"))
        np.testing.assert_array_equal(j.trace("mod", 3, recorder="every2"), r.trace("mod", 3, recorder="every2"))
        np.testing.assert_array_equal(j.trace("U", 2, recorder="sparse"), r.trace("U", 2, recorder="sparse"))
        np.testing.assert_array_equal(j.raster(0, recorder="sparse"), r.raster(0, recorder="sparse"))


def test_observers_without_next_step_still_see_every_step():
    net = make("cpu")
    seen, asked = [], []

    class Plain:
        def on_step(self, n):
            seen.append((n.step, n.images_seen, n.image_index))

    class Sometimes:
        def next_step(self, n):
            return None if n.step >= 20 else (n.step // 10 + 1) * 10

        def on_step(self, n):
            asked.append(n.step)

    X, y = data()
    plain = Plain()
    net.add_observer(plain)
    net.add_observer(Sometimes())
    net.train(X, y, n_images=10)
    assert [s for s, _, _ in seen] == list(range(1, 31))
    assert [c for _, c, _ in seen] == [k // N for k in range(30)]     # images before the current one
    assert asked == [10, 20]
    net.remove_observer(plain)
    calls = []
    run = net.backend.run
    net.backend.run = lambda *a, **k: calls.append(a[6]) or run(*a, **k)
    net.train(X, y, n_images=10)
    assert asked == [10, 20] and sum(calls) == 30 and len(calls) <= 6      # never again: whole blocks


def test_stop_callback_between_blocks_still_comes_on_image_boundaries(tmp_path):
    """Callbacks (progress, stop checks) come after whole images, with step and images_seen complete."""
    net = make("cpu")
    got = []
    rec = build_recorders(recorders(), net, str(tmp_path / "r.h5"), total_images=40, block_steps=8)
    X, y = data()
    net.train(X, y, n_images=40, callback=lambda n, e: got.append((net.step, net.images_seen, n)))
    rec.close()
    assert sum(n for _, _, n in got) == 40
    assert all(step == seen * N for step, seen, _ in got)


CUDA_SCRIPT = r"""
import sys
sys.path.insert(0, {tests!r})
import test_record_blocks as t
from spikefa.record import Recorder
recs = [Recorder(name="w", layers="all", variables=["spikes", "V"], windows=[[1, 2], [4, 5]]),
        Recorder(name="e", layers=[2], units=[1], variables=["mod"], every=4)]
ref, blk = t.make("cuda"), t.make("cuda")
_, ref_calls = t.record({tmp!r} + "/ref.h5", ref, 6, every_step=True, recs=recs)
obs, calls = t.record({tmp!r} + "/blk.h5", blk, 6, recs=recs)
t.assert_same({tmp!r} + "/ref.h5", {tmp!r} + "/blk.h5")
t.assert_same_weights(ref, blk)
assert obs.steps == [4, 5, 6, 8, 12, 13, 14, 15, 16], obs.steps
assert ref_calls == [1] * 18 and len(calls) < 15 and sum(calls) == 18, calls
print("ok", len(calls))
"""


def test_cuda_blocks_record_what_every_step_records_under_the_simulator(tmp_path):
    pytest.importorskip("spikefa.spiking.cuda")
    res = run_under_cudasim(CUDA_SCRIPT, tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().splitlines()[-1].startswith("ok")


def test_bench_recorders_are_the_model_files():
    """The bench times the recorders of models/fig4_spiking.toml."""
    import tomllib

    from spikefa.bench.recording import FIG4_RECORDERS
    path = os.path.join(os.path.dirname(__file__), "..", "models", "fig4_spiking.toml")
    if not os.path.exists(path):
        pytest.skip("no models/ beside the tests")
    with open(path, "rb") as fh:
        tables = tomllib.load(fh)["record"]["recorders"]
    declared = [{k: v for k, v in r.as_table().items() if k in t} for r, t in zip(FIG4_RECORDERS, tables)]
    assert json.dumps(declared, sort_keys=True) == json.dumps(tables, sort_keys=True)


def test_a_windows_last_samples_are_flushed_on_the_clock_between_windows(tmp_path):
    """Not called between windows, the recording still flushes its buffered samples on its clock
    (the network asks next_step before every compiled block)."""
    import time

    path = str(tmp_path / "r.h5")
    net = make("cpu")
    rec = build_recorders([Recorder(name="w", layers=[1], windows=[[0, 2], [30, 31]])], net, path,
                          block_steps=256, flush_interval_s=0.01)
    X, y = data()
    net.train(X, y, n_images=20, callback=lambda n, e: time.sleep(0.02))
    with h5py.File(path, "r", swmr=True) as h5:
        np.testing.assert_array_equal(h5["recordings/w/step"][()], np.arange(1, 7))
    rec.close()
