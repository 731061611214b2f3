"""`spikefa run` with recorders, as a user runs it: Ctrl-C, --resume into a new file, SIGKILL."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from proc_helpers import reaped
from spikefa.record import open_run

pytest.importorskip("spikefa.experiments.spiking")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models", "fig4_spiking.toml")
SETTINGS = ["data.dataset=synthetic", "network.sizes=[144,24,16,100]", "network.units_per_class=10",
            "network.backend=numpy", "train.eval_every=100000", "train.checkpoint_every=10",
            "record.flush_interval_s=0.1",
            'record.recorders=[{name="raster", layers="all", units=4, seed=1}, '
            '{name="psp", layers=[1], units=[2, 7], variables=["V", "mod"], every=2}, '
            '{name="out", layers=[3], spike_format="events"}]']


def spikefa_run(out, images, *extra, wait=True):
    cmd = [sys.executable, "-m", "spikefa.cli", "run", MODEL, "--quick", "--no-progress", "--out", str(out),
           "--set", f"train.images={images}"] + [a for s in SETTINGS for a in ("--set", s)] + list(extra)
    if wait:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_samples(path, proc, n, what="recordings"):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        if os.path.exists(path):
            try:
                with open_run(str(path)) as rec:
                    if len(rec.index("raster")["step"]) >= n:
                        return
            except Exception:     # not yet created, or /recordings not yet there
                pass
        time.sleep(0.1)
    raise AssertionError(f"no {what} appeared in {path}")


def arrays(rec):
    return {"steps": rec.index("raster")["step"], "image": rec.index("raster")["image"],
            "raster": [rec.raster(layer, recorder="raster") for layer in (1, 2, 3)],
            "V": rec.trace("V", 1), "mod": rec.trace("mod", 1), "psp_steps": rec.index("psp")["step"],
            "out": rec.raster(3, recorder="out")}


def run_until_signal(path, sig):
    """Start a long run, send ``sig`` once it has recorded samples; its exit code and stderr."""
    proc = spikefa_run(path, 100000, wait=False)
    try:
        wait_for_samples(path, proc, 120)
        proc.send_signal(sig)   # once: the handler only asks the training loop to stop at its next block
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


def test_sigterm_closes_the_run_file_like_ctrl_c(tmp_path):
    """kill or a batch scheduler's stop: the run file is closed with its status, a checkpoint named."""
    a = tmp_path / "a.h5"
    code, err = run_until_signal(a, signal.SIGTERM)
    assert code == 143, err
    assert f"kept in {a}; continue with --resume {tmp_path / 'a.ckpt.h5'}" in err
    with h5py.File(a, "r") as h5:                      # closed cleanly: plain h5py opens it
        assert h5.attrs["status"] == "interrupted" and "SIGTERM" in h5.attrs["message"]


def test_ctrl_c_then_resume_joins_into_the_uninterrupted_recording(tmp_path):
    a, b, full = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "full.h5"
    code, err = run_until_signal(a, signal.SIGINT)
    assert code == 130, err
    assert f"kept in {a}" in err
    with h5py.File(a, "r") as h5:
        assert h5.attrs["status"] == "interrupted"
    ckpt = tmp_path / "a.ckpt.h5"
    with h5py.File(ckpt, "r") as h5:
        ckpt_step, ckpt_images = int(h5.attrs["step"]), int(h5.attrs["images_seen"])
    with open_run(str(a)) as rec:
        assert rec.index("raster")["step"][-1] >= ckpt_step     # recorded up to the checkpoint at least
    total = ckpt_images + 20
    res = spikefa_run(b, total, "--resume", str(ckpt))
    assert res.returncode == 0, res.stderr[-2000:]
    res = spikefa_run(full, total)
    assert res.returncode == 0, res.stderr[-2000:]
    with open_run(str(b), follow=True) as followed:      # b names a as the run it continues
        assert followed.paths == [str(a), str(b)]
    with open_run([str(a), str(b)]) as joined, open_run(str(full)) as whole:
        j, w = arrays(joined), arrays(whole)
        np.testing.assert_array_equal(w["steps"], np.arange(1, total * 5 + 1))
        for key in j:
            if key in ("raster",):
                for x, y in zip(j[key], w[key]):
                    np.testing.assert_array_equal(x, y)
            else:
                np.testing.assert_array_equal(j[key], w[key])


def test_sigkill_leaves_a_readable_recording(tmp_path):
    a = tmp_path / "a.h5"
    proc = spikefa_run(a, 100000, wait=False)
    with reaped(proc):
        wait_for_samples(a, proc, 100)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    with open_run(str(a)) as rec:
        steps = rec.index("raster")["step"]
        assert len(steps) >= 100
        np.testing.assert_array_equal(steps, np.arange(1, len(steps) + 1))
        assert rec.raster(2).shape == (len(steps), 4)
        assert rec.attrs["backend"] == "numpy"
