"""Fault injection: runs killed at random moments, a full disk, a second writer, damaged run files
and checkpoints. Every outcome must be a readable file, a clean one-line error, or an identical
resume. A few dozen trials here (well under a minute); scripts/fault_campaign.py runs more."""

import collections
import os
import random
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import fault_campaign as fc  # noqa: E402

from spikefa import runlock, stop  # noqa: E402
from spikefa.config import load_model  # noqa: E402
from spikefa.errors import ConfigError, DataError, OutputError  # noqa: E402
from spikefa.record import recover  # noqa: E402
from spikefa.runfile import open_read  # noqa: E402
from spikefa.runfile import RunFile  # noqa: E402
from spikefa.runner import default_out_path, run_model  # noqa: E402
from spikefa.spiking import load_checkpoint  # noqa: E402

COUNTS = collections.Counter()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("faults"))


@pytest.fixture(scope="module")
def references(folder):
    return fc.reference_files(folder)


@pytest.fixture(scope="module", autouse=True)
def print_counts():
    yield
    print("\nfault trials:", sum(COUNTS.values()))
    for outcome, n in sorted(COUNTS.items()):
        print(f"{n:4d}  {outcome}")


def tally(kind, outcome):
    COUNTS[f"{kind}: {outcome}"] += 1
    return outcome


# early kills (before and while the file is created) and later ones, with and without recorders
KILLS = [(signal.SIGKILL, False, 0.4), (signal.SIGKILL, False, 1.3), (signal.SIGKILL, True, 2.2),
         (signal.SIGTERM, False, 0.9), (signal.SIGTERM, True, 1.6), (signal.SIGTERM, False, 2.5)]


@pytest.mark.parametrize("sig, record, delay", KILLS, ids=[f"{signal.Signals(s).name}-{'rec' if r else 'norec'}-{d}s"
                                                          for s, r, d in KILLS])
def test_a_killed_run_leaves_a_readable_file_or_none(folder, sig, record, delay):
    jitter = random.Random(f"{sig}{record}{delay}").uniform(-0.2, 0.2)
    tally("kill", fc.kill_trial(folder, sig, record, delay + jitter))


@pytest.mark.parametrize("delay", [0.1, 0.4, 0.8])
def test_a_stopped_run_resumes_from_its_checkpoint_identically(folder, delay):
    outcome = tally("resume", fc.resume_trial(folder, delay, images=12000))
    assert outcome.startswith("identical") or outcome == "finished before the stop"


@pytest.mark.parametrize("tmpfs", [True, False], ids=["tmpfs", "rlimit"])
def test_a_full_disk_stops_with_one_line_and_keeps_the_file(folder, tmpfs):
    tally("full disk", fc.full_disk_trial(folder, 2.0, tmpfs=tmpfs))


def test_a_second_writer_is_refused(folder):
    tally("second writer", fc.second_writer_trial(folder))


def test_damaged_run_files_give_one_line_within_seconds(folder, references):
    finished, _, killed = references
    rng = random.Random(17)
    for i in range(16):
        tally("damage", fc.damage_trial([finished, killed][i % 2], folder, rng, ["truncate", "flip"][i // 2 % 2]))


def test_damaged_checkpoints_are_refused(folder, references):
    _, ckpt, _ = references
    rng = random.Random(5)
    for i in range(16):
        assert tally("checkpoint", fc.checkpoint_flip_trial(ckpt, folder, rng, in_data=True)) == "refused on one line"
    for i in range(4):
        tally("checkpoint", fc.checkpoint_flip_trial(ckpt, folder, rng, in_data=False))


def test_edited_and_foreign_checkpoints_never_give_a_traceback(folder, references, tmp_path):
    _, ckpt, finished_run = references[0][:-3] + ".ckpt.h5", references[1], references[0]
    edited = str(tmp_path / "edited.ckpt.h5")
    with open(ckpt, "rb") as src, open(edited, "wb") as dst:
        dst.write(src.read())
    with h5py.File(edited, "a") as h5:
        h5.attrs["step"] = 12345
    with pytest.raises(DataError, match="checksum"):
        load_checkpoint(edited)
    with h5py.File(edited, "a") as h5:
        h5.attrs["format"] = "spikefa-spiking-checkpoint/9"
    with pytest.raises(DataError, match="checksum"):
        load_checkpoint(edited)
    with h5py.File(edited, "r+") as h5:          # a foreign HDF5 file: no spikefa header
        del h5.attrs["format"]
    with open(edited, "r+b") as fh:
        fh.write(b"\0" * 64)
    with pytest.raises(DataError, match="not a spiking-network checkpoint"):
        load_checkpoint(edited)
    with pytest.raises(DataError, match="is a run file"):
        load_checkpoint(finished_run)
    junk = tmp_path / "junk.ckpt.h5"
    junk.write_bytes(b"not hdf5 at all" * 10)
    with pytest.raises(DataError):
        load_checkpoint(str(junk))


def test_resume_and_out_cannot_name_the_same_file(folder, references):
    finished, ckpt, _ = references
    model = load_model(fc.model_file(folder), overrides=["train.images=800"])
    before = os.path.getsize(ckpt)
    with pytest.raises(ConfigError, match="is the checkpoint given to --resume"):
        run_model(model, ckpt, resume=ckpt, show_progress=False, echo=False)
    with pytest.raises(ConfigError, match="the run file that wrote the checkpoint"):
        run_model(model, finished, resume=ckpt, show_progress=False, echo=False)
    with pytest.raises(ConfigError, match="is a run file, not a checkpoint"):
        run_model(model, os.path.join(folder, "x.h5"), resume=finished, show_progress=False, echo=False)
    assert os.path.getsize(ckpt) == before and load_checkpoint(ckpt)
    assert not os.path.exists(os.path.join(folder, "x.h5"))


def test_a_checkpoint_past_this_run_is_an_error_not_a_nan_result(folder, references):
    _, ckpt, _ = references           # at 400 images
    model = load_model(fc.model_file(folder), overrides=["train.images=100"])
    out = os.path.join(folder, "short.h5")
    with pytest.raises(ConfigError, match="nothing is left to run"):
        run_model(model, out, resume=ckpt, quick=True, show_progress=False, echo=False)
    assert not os.path.exists(out)       # failed before its first step: no file left behind


def test_one_writer_per_file_in_one_process_too(tmp_path):
    path = str(tmp_path / "a.h5")
    model = load_model(text=fc.MODEL)
    first = RunFile(path, model)
    try:
        with pytest.raises(OutputError, match=f"process {os.getpid()}"):
            RunFile(path, model)
        with pytest.raises(OutputError, match="being written"):
            recover(path)
        assert runlock.writer_of(path)["pid"] == os.getpid()
    finally:
        first.close()
    assert runlock.writer_of(path) is None and not os.path.exists(path + ".lock")


def test_default_out_paths_of_runs_started_in_the_same_second_differ(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = load_model(text=fc.MODEL)
    os.makedirs("runs")
    a = default_out_path(model)
    open(a, "w").close()
    b = default_out_path(model)
    assert a != b and b.endswith("-2.h5") or a[:-3] not in b


def test_a_killed_run_without_swmr_reads_and_recovers(tmp_path):
    """A run killed before any SWMR (no recorders): the tools open it, recover() makes it ordinary."""
    path = str(tmp_path / "plain.h5")
    code = ("import os, h5py, numpy as np\n"
            f"f = h5py.File({path!r}, 'w', libver='latest')\n"
            "f.attrs['status'] = 'running'\n"
            "f.create_dataset('metrics/fa/test_error', data=np.arange(5.0))\n"
            "f.flush()\n"
            "os.kill(os.getpid(), 9)\n")
    subprocess.run([sys.executable, "-c", code])
    with pytest.raises(OSError):
        h5py.File(path, "r")
    with open_read(path) as h5:
        assert list(h5["metrics/fa/test_error"][()]) == [0, 1, 2, 3, 4]
    assert recover(path)
    with h5py.File(path, "r") as h5:
        assert h5.attrs["status"] == "killed" and h5["metrics/fa/test_error"].shape == (5,)


def test_the_sweep_resumes_a_killed_recording_task_from_its_checkpoint(tmp_path):
    from spikefa import sweep

    model = fc.model_file(str(tmp_path))
    sets = ["train.images=6000"] + fc.RECORDERS
    plan = sweep.plan_sweep(model, seeds=1, sets=sets, out_dir=str(tmp_path / "sw"))
    os.makedirs(os.path.join(plan.out_dir, "runs"), exist_ok=True)
    task = plan.tasks[0]
    run_path = plan.run_path(task)
    cmd = [sys.executable, "-m", "spikefa.cli", "run", model, "--no-progress", "--out", run_path,
           "--seed", str(task.seed)] + [a for s in task.overrides() for a in ("--set", s)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ckpt = run_path[:-3] + ".ckpt.h5"
    deadline = time.monotonic() + 60
    while not os.path.exists(ckpt) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.kill()
    proc.wait()
    proc.stderr.close()
    assert os.path.exists(ckpt), "the run wrote no checkpoint before it was killed"
    assert sweep._run_file_state(run_path)[0] == "killed"
    stopped_at = load_checkpoint(ckpt)[0].images_seen
    spec = {"id": task.id, "sweep": plan.name, "topic": "t", "model": plan.model, "out": run_path,
            "log": os.path.join(plan.out_dir, task.log), "quick": False, "seed": task.seed,
            "overrides": task.overrides(), "params": sweep.jsonable(task.params), "threads": 1,
            "threads_by_host": {}}
    result = sweep.run_task(spec)
    assert result["status"] == "finished", result
    assert result["out"].endswith(".r1.h5")
    log = open(spec["log"]).read()
    assert f"resuming from {ckpt}" in log
    with open_read(run_path) as h5:            # the killed file is kept: the resumed one continues it
        assert h5.attrs["status"] == "running"
    with open_read(result["out"]) as h5:
        assert h5["recordings"].attrs["first_step"] > 1 and h5.attrs["status"] == "finished"
    assert stopped_at < 6000
    tally("sweep", "killed recording task resumed from its checkpoint")


def test_stop_requests_are_only_flags_while_polling():
    with stop.handling_signals():
        with stop.polling():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)
            assert stop.requested() == "SIGTERM"
            with pytest.raises(stop.Terminated) as info:
                stop.check()
            assert info.value.at_safe_point
        assert stop.requested() == "SIGTERM"
    assert stop.requested() is None
    with stop.handling_signals(), pytest.raises(stop.Interrupted):
        os.kill(os.getpid(), signal.SIGINT)        # outside a polling stretch: at once
        time.sleep(0.5)
    np.testing.assert_equal(stop.requested(), None)
