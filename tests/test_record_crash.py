"""Real subprocesses: read a run live, kill it (SIGKILL), interrupt it (SIGINT)."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from spikefa.record import build_recorders, open_run, recover

from record_fakenet import FakeNet
from record_worker import SIZES

WORKER = os.path.join(os.path.dirname(__file__), "record_worker.py")


def start(path, flush_s=0.05):
    proc = subprocess.Popen([sys.executable, WORKER, str(path), str(flush_s)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started", proc.stderr.read()
    return proc


def read_flushes(proc, n):
    last = None
    for _ in range(n):
        line = proc.stdout.readline().split()
        assert line and line[0] == "flushed", line
        last = int(line[1])
    return last


def check_samples(rec, at_least):
    """Every sample from step 1 on, none missing, each equal to what the network had."""
    steps = rec.index("r")["step"]
    assert len(steps) >= at_least and np.array_equal(steps, np.arange(1, len(steps) + 1))
    net = FakeNet(SIZES)
    want_v = np.stack([net.state_at(t)[("V", 2)][0][[0, 2, 5]] for t in steps])
    np.testing.assert_array_equal(rec.trace("V", 2), want_v)
    ev = rec.raster(1, recorder="e")
    assert ev.shape[0] == rec.index("e")["step"].shape[0]
    np.testing.assert_array_equal(ev[:len(steps)], np.stack([net.state_at(t)[("spikes", 1)][0] for t in steps]))
    return len(steps)


@pytest.fixture
def worker(tmp_path):
    procs = []

    def make(flush_s=0.05):
        procs.append(start(tmp_path / "run.h5", flush_s))
        return procs[-1]
    yield make
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()


def test_live_read_then_sigint_closes_cleanly(tmp_path, worker):
    path = str(tmp_path / "run.h5")
    proc = worker()
    read_flushes(proc, 1)
    with open_run(path) as rec:
        seen = [check_samples(rec, 1)]
        deadline = time.monotonic() + 20
        while len(seen) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
            rec.refresh()
            n = check_samples(rec, seen[-1])
            if n > seen[-1]:
                seen.append(n)
        assert len(seen) == 4, "a live reader saw no new data"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert f"kept in {path}" in err, err
    with h5py.File(path, "r") as h5:          # closed: an ordinary HDF5 file
        assert h5.attrs["status"] == "interrupted", err
        assert h5["metrics/fa/test_error"].shape[0] >= 1
    with open_run(path) as rec:
        assert check_samples(rec, seen[-1]) >= seen[-1]


def test_sigkill_keeps_every_sample_up_to_the_last_flush(tmp_path, worker):
    path = str(tmp_path / "run.h5")
    proc = worker()
    flushed = read_flushes(proc, 3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=20)
    with h5py.File(path, "r", swmr=True) as h5:
        assert h5["recordings/r/step"].shape[0] >= flushed
    with open_run(path) as rec:
        n = check_samples(rec, flushed)
    assert recover(path)                        # now an ordinary file
    with h5py.File(path, "r") as h5:
        assert h5.attrs["status"] == "killed"
    with open_run(path) as rec:
        assert check_samples(rec, flushed) == n

    # resume from a checkpoint taken after step 7 into the same file: no gap, no repeat
    net = FakeNet(SIZES)
    net.resume_at(7)
    from record_worker import RECORDERS
    with build_recorders(RECORDERS, net, path, resume_step=True):
        net.run(30)
    with open_run(path) as rec:
        assert check_samples(rec, 37) == 37


FULL_DISK = r"""
import resource, signal, sys
sys.path.insert(0, {tests!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # a write past the limit fails with EFBIG, like a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (1_500_000, 1_500_000))
from record_fakenet import FakeNet
from spikefa import diskroom
from spikefa.config import Model
from spikefa.errors import OutputError
from spikefa.record import Recorder, build_recorders
from spikefa.runfile import RunFile
if {no_room_check!r}:         # as if another process filled the disk between the check and the write
    diskroom.check = lambda *a, **k: None
out = RunFile({path!r}, Model(experiment="spiking", params={{"seed": 0}}, source="t"))
net = FakeNet([50, 400, 300, 100])
build_recorders([Recorder(layers="all", variables=["V", "U", "spikes"])], net, out, block_steps=20,
                flush_interval_s=0.01)
try:
    net.run(100000)
except OutputError as exc:
    print("OutputError:", exc, flush=True)
    out.set_status("failed", str(exc))
    out.close()
"""


@pytest.mark.parametrize("no_room_check", [False, True], ids=["stopped-before", "write-failed"])
def test_a_full_disk_stops_the_run_with_a_clear_error_and_keeps_the_samples(tmp_path, no_room_check):
    path = str(tmp_path / "run.h5")
    script = FULL_DISK.format(tests=os.path.dirname(__file__), path=path, no_room_check=no_room_check)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    # never a crash; a process that abandoned a file after a failed write exits with code 2
    assert res.returncode == (2 if no_room_check else 0), res.stderr[-2000:]
    line = [x for x in res.stdout.splitlines() if x.startswith("OutputError:")]
    assert len(line) == 1, res.stdout
    if no_room_check:
        assert "writing recordings failed" in line[0] and "File too large" in line[0], line
    else:
        assert "file-size limit reached" in line[0], line
        with h5py.File(path, "r") as h5:              # stopped before any write failed: an ordinary file
            assert h5.attrs["status"] == "failed"
    kept = int(line[0].split("samples up to step ")[1].split()[0])
    with open_run(path) as rec:
        steps = rec.index()["step"]
        assert len(steps) >= kept and np.array_equal(steps[:kept], np.arange(1, kept + 1))
        net = FakeNet([50, 400, 300, 100])
        np.testing.assert_array_equal(rec.trace("V", 2, window=(kept, kept + 1))[0],
                                      net.state_at(kept)[("V", 2)][0])
        np.testing.assert_array_equal(rec.raster(1, window=(1, kept + 1)),
                                      np.stack([net.state_at(k)[("spikes", 1)][0] for k in range(1, kept + 1)]))
