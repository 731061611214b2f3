"""Fault injection against spikefa's run files and checkpoints: kill runs at random moments, fill
a small disk, start a second writer, truncate and flip bits in run files and checkpoints.

Every trial ends in an outcome that is allowed (a readable file, a clean one-line error, an
identical resume) or raises AssertionError naming what went wrong. tests/test_faults.py runs a
few dozen trials; this script runs a larger campaign and prints the counts:

    python scripts/fault_campaign.py --trials 20 --out /tmp/campaign
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import h5py
import numpy as np

from spikefa import stop
from spikefa.config import dumps, load_model
from spikefa.errors import SpikefaError
from spikefa.record import open_run
from spikefa.runfile import open_read, reading
from spikefa.runner import run_model
from spikefa.spiking import load_checkpoint

MODEL = dumps({
    "experiment": "spiking", "title": "fault campaign", "seed": 1,
    "network": {"sizes": [144, 40, 100], "units_per_class": 10, "eta": 0.03, "init_scale": 0.05,
                "feedback_scale": 0.1, "backend": "cpu"},
    "data": {"dataset": "synthetic", "synthetic_train": 500, "synthetic_test": 100},
    "train": {"images": 1000000, "eval_every": 500, "checkpoint_every": 200, "checkpoint_min_s": 0},
})
RECORDERS = ['record.flush_interval_s=0.1',
             'record.recorders=[{name="raster", layers="all", units=8, seed=1}, '
             '{name="psp", layers=[1, 2], units="all", variables=["V", "mod"]}]']
READ_LIMIT_S = 5.0      # a reader gives an answer within this, whatever the file holds
STOP_LIMIT_S = 20.0     # one SIGTERM stops a run within this


def model_file(folder: str) -> str:
    path = os.path.join(folder, "model.toml")
    if not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(MODEL)
    return path


def run_command(folder: str, out: str, *settings: str, record: bool = False, extra=()) -> list:
    sets = list(settings) + (RECORDERS if record else [])
    return ([sys.executable, "-m", "spikefa.cli", "run", model_file(folder), "--no-progress", "--out", out]
            + [a for s in sets for a in ("--set", s)] + list(extra))


def start(cmd, **kw):
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finish(proc, timeout):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"did not stop within {timeout} s after one signal; stderr: {err[-500:]}")
    return proc.returncode, out, err


def one_line_error(err: str) -> str:
    """The single 'spikefa: error:' line of a failed command; AssertionError on tracebacks or more lines."""
    assert "Traceback" not in err, err[-2000:]
    lines = [x for x in err.splitlines() if x.startswith("spikefa: error:")]
    assert len(lines) == 1, err[-2000:]
    return lines[0]


# -- reading whatever a fault left ----------------------------------------------------------------
def read_everything(path: str) -> None:
    """Open a run file as the tools do and read every data set in it (and its recordings)."""
    with open_read(path) as h5, reading(path):
        dict(h5.attrs)
        names = []
        h5.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for n in names:
            h5[n][()]
        has_recordings = "recordings" in h5
    if has_recordings:
        with open_run(path) as rec, reading(path):
            for name in rec.recorders():
                rec.index(name)


def bounded(fn, limit_s=READ_LIMIT_S):
    """fn() in a forked child, so that a hang or a crash is a finding and not the end of the campaign:
    ("ok", None) or ("error", message of a SpikefaError); AssertionError on a hang, a crash or any
    other exception."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                               # the child: report, then leave without clean-up
        os.close(r)
        try:
            fn()
            report = "ok\n"
        except SpikefaError as exc:
            report = "error\n" + str(exc)
        except BaseException as exc:           # noqa: BLE001 (any other exception is the finding)
            report = f"raw\n{type(exc).__name__}: {exc}"
        os.write(w, report.encode()[:60000])
        os._exit(0)
    os.close(w)
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
        raise AssertionError(f"a reader hung for more than {limit_s} s")
    with os.fdopen(r, "rb") as fh:
        report = fh.read().decode(errors="replace")
    if os.WIFSIGNALED(status):
        raise AssertionError(f"a reader crashed (signal {os.WTERMSIG(status)})")
    kind, _, msg = report.partition("\n")
    if kind == "raw":
        raise AssertionError(f"raw exception after {time.monotonic() - t0:.1f} s: {msg}")
    if kind == "error":
        assert "\n" not in msg, f"multi-line error: {msg!r}"
        return kind, msg
    return "ok", None


def readable_or_clean(path: str, name_in_message: str | None = None) -> str:
    kind, msg = bounded(lambda: read_everything(path))
    if kind == "error":
        assert (name_in_message or path) in msg, f"the error does not name the file: {msg}"
        return "clean error"
    return "readable"


# -- trials ---------------------------------------------------------------------------------------
def kill_trial(folder: str, sig: int, record: bool, delay_s: float) -> str:
    """Start a run, send one ``sig`` after ``delay_s``; the file is absent, readable or interrupted."""
    out = os.path.join(folder, f"kill-{sig}-{int(record)}-{int(delay_s * 1000)}.h5")
    proc = start(run_command(folder, out, record=record))
    time.sleep(delay_s)
    proc.send_signal(sig)
    code, _, err = finish(proc, STOP_LIMIT_S)
    if not os.path.exists(out):
        return "killed before its file existed"
    if sig == signal.SIGTERM and code == 143:
        assert "Traceback" not in err, err[-2000:]
        with open_read(out) as h5:
            assert h5.attrs["status"] == "interrupted", dict(h5.attrs)
        ckpt = out[:-3] + ".ckpt.h5"
        if os.path.exists(ckpt):
            load_checkpoint(ckpt)
        read_everything(out)
        return "stopped by one SIGTERM, file closed"
    assert code in (-signal.SIGKILL, -signal.SIGTERM), (code, err[-2000:])
    outcome = readable_or_clean(out)
    assert outcome == "readable", f"{out}: unreadable after {signal.Signals(sig).name}"
    return "killed, file readable"


def mount_tmpfs(folder: str, size_mb: float) -> bool:
    """Mount a tmpfs of ``size_mb`` on ``folder`` when this process may (root); True if it did."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("mount"):
        return False
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={int(size_mb * 1024)}k", "tmpfs", folder],
                         capture_output=True)
    return res.returncode == 0


def full_disk_trial(folder: str, size_mb: float, record: bool = True, tmpfs: bool = True) -> str:
    """Run on a small disk (a tmpfs when one can be mounted, else a file-size limit)."""
    disk = os.path.join(folder, f"disk-{size_mb}-{int(record)}-{int(tmpfs)}")
    os.makedirs(disk, exist_ok=True)
    mounted = tmpfs and mount_tmpfs(disk, size_mb)
    out = os.path.join(disk, "run.h5")
    limit = int(size_mb * 1e6)

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)    # a write past the limit fails with EFBIG
        import resource
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    try:
        proc = start(run_command(folder, out, "train.checkpoint_every=100", record=record),
                     preexec_fn=None if mounted else limit_file_size)
        code, _, err = finish(proc, 120)
        assert code == 2, f"exit {code} (wanted 2): {err[-2000:]}"
        line = one_line_error(err)
        assert "disk full" in line or "file-size limit" in line or "failed" in line, line
        how = "tmpfs" if mounted else "RLIMIT_FSIZE"
        if not os.path.exists(out):
            assert "nothing was written" in line, line
            return f"{how}: refused before the run started, one line"
        outcome = readable_or_clean(out)
        assert outcome == "readable", line
        ckpt = out[:-3] + ".ckpt.h5"
        if os.path.exists(ckpt):
            load_checkpoint(ckpt)
        return f"{how}: exit 2, one line, file readable, checkpoint kept"
    finally:
        if mounted:
            subprocess.run(["umount", disk], capture_output=True)


def second_writer_trial(folder: str) -> str:
    """A second writer (--overwrite, recover) on a live run is refused; the live run is unharmed."""
    from spikefa.errors import OutputError
    from spikefa.record import recover

    out = os.path.join(folder, "live.h5")
    proc = start(run_command(folder, out, record=False))
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(out + ".lock") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        second = subprocess.run(run_command(folder, out, extra=["--overwrite"]), capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 2, second.stderr[-2000:]
        line = one_line_error(second.stderr)
        assert f"process {proc.pid}" in line, line
        try:
            recover(out)
            raise AssertionError("recover() replaced a live run's file")
        except OutputError as exc:
            assert f"process {proc.pid}" in str(exc)
        proc.send_signal(signal.SIGTERM)
        code, _, err = finish(proc, STOP_LIMIT_S)
        assert code == 143, err[-2000:]
        with open_read(out) as h5:
            assert h5.attrs["status"] == "interrupted"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return "second writer refused, live run unharmed"


def damage_trial(source: str, folder: str, rng: random.Random, kind: str) -> str:
    """Truncate or flip one bit of a copy of ``source``; readers answer within seconds, on one line."""
    path = os.path.join(folder, f"damaged-{kind}-{rng.randrange(1 << 30)}.h5")
    shutil.copy(source, path)
    size = os.path.getsize(path)
    if kind == "truncate":
        os.truncate(path, rng.randrange(0, size))
    else:
        at = rng.randrange(size)
        with open(path, "r+b") as fh:
            fh.seek(at)
            b = fh.read(1)[0]
            fh.seek(at)
            fh.write(bytes([b ^ (1 << rng.randrange(8))]))
    outcome = readable_or_clean(path)
    os.remove(path)
    return f"{kind}: {outcome}"


def data_extents(path: str) -> list:
    """(name, file offset, bytes) of every contiguous data set of an HDF5 file."""
    found = []
    with h5py.File(path, "r") as h5:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.id.get_offset() is not None and obj.id.get_storage_size():
                found.append((name, obj.id.get_offset(), obj.id.get_storage_size()))
        h5.visititems(visit)
    return found


def checkpoint_flip_trial(ckpt: str, folder: str, rng: random.Random, in_data: bool) -> str:
    """Flip one bit of a checkpoint (in an array's data, or anywhere): refused on one line, or identical."""
    path = os.path.join(folder, f"flipped-{rng.randrange(1 << 30)}.ckpt.h5")
    shutil.copy(ckpt, path)
    if in_data:
        name, offset, n = rng.choice(data_extents(path))
        at = offset + rng.randrange(n)
    else:
        at = rng.randrange(os.path.getsize(path))
    with open(path, "r+b") as fh:
        fh.seek(at)
        b = fh.read(1)[0]
        fh.seek(at)
        fh.write(bytes([b ^ (1 << rng.randrange(8))]))
    kind, _ = bounded(lambda: load_checkpoint(path))
    os.remove(path)
    if kind == "error":
        return "refused on one line"
    assert not in_data, "a bit flipped in an array's data was accepted"
    return "accepted (flip in unused bytes)"


def _same_checkpoints(a: str, b: str) -> None:
    na, ea = load_checkpoint(a)
    nb, eb = load_checkpoint(b)
    assert (na.step, na.images_seen) == (nb.step, nb.images_seen)
    for x, y in zip(na.weights.WT + na.weights.b, nb.weights.WT + nb.weights.b):
        assert np.array_equal(x, y), "resumed weights differ"
    for ga, gb in zip(na.state.groups(), nb.state.groups()):
        for x, y in zip(ga, gb):
            assert np.array_equal(x, y), "resumed state differs"
    names = ea["history_names"]
    kept = [names.index(n) for n in ("examples_seen", "test_error", "train_error")]   # images_per_s is wall time
    assert [[r[i] for i in kept] for r in ea["history"]] == [[r[i] for i in kept] for r in eb["history"]]


def resume_trial(folder: str, delay_s: float, images: int = 20000, straight: str | None = None) -> str:
    """Stop a run (as SIGTERM does) after ``delay_s``, resume it from the checkpoint written at the
    stop: its end equals a run never stopped."""
    sets = [f"train.images={images}", "train.checkpoint_every=0"]
    model = load_model(model_file(folder), overrides=sets)
    if straight is None or not os.path.exists(straight):
        straight = os.path.join(folder, f"straight-{images}.h5")
        run_model(model, straight, show_progress=False, echo=False)
    tag = int(delay_s * 1000)
    first, second = os.path.join(folder, f"stopped-{tag}.h5"), os.path.join(folder, f"resumed-{tag}.h5")
    timer = threading.Timer(delay_s, stop.request, args=(signal.SIGTERM,))
    timer.start()
    try:
        run_model(model, first, show_progress=False, echo=False)
        return "finished before the stop"
    except stop.Terminated:
        pass
    finally:
        timer.cancel()
    ckpt = first[:-3] + ".ckpt.h5"
    assert os.path.exists(ckpt), "no checkpoint written at the stop"
    stopped_at = load_checkpoint(ckpt)[0].images_seen
    run_model(model, second, resume=ckpt, show_progress=False, echo=False)
    _same_checkpoints(straight[:-3] + ".ckpt.h5", second[:-3] + ".ckpt.h5")
    with open_read(straight) as a, open_read(second) as b:
        for n in ("examples_seen", "test_error", "train_error"):
            assert np.array_equal(a[f"metrics/fa/{n}"][()], b[f"metrics/fa/{n}"][()]), n
    return f"identical resume (stopped at {stopped_at} of {images} images)"


def reference_files(folder: str) -> tuple[str, str, str]:
    """A finished recording run, its checkpoint, and a recording run killed mid-write."""
    finished = os.path.join(folder, "finished.h5")
    if not os.path.exists(finished):
        model = load_model(model_file(folder), overrides=["train.images=400", "train.eval_every=200"] + RECORDERS)
        run_model(model, finished, show_progress=False, echo=False)
    killed = os.path.join(folder, "killed.h5")
    if not os.path.exists(killed):
        proc = start(run_command(folder, killed, record=True))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.2)
            with contextlib.suppress(Exception), open_run(killed) as rec:
                if len(rec.index("raster")["step"]) > 200:
                    break
        proc.kill()
        finish(proc, 30)
    return finished, finished[:-3] + ".ckpt.h5", killed


# -- the campaign ---------------------------------------------------------------------------------
def campaign(folder: str, trials: int, seed: int = 0, budget_s: float = 1e9, log=print) -> collections.Counter:
    """Run ``trials`` trials of each kind (bounded by ``budget_s``); the counts of outcomes."""
    rng = random.Random(seed)
    counts = collections.Counter()
    quiet = contextlib.redirect_stderr(open(os.path.join(folder, "runs.log"), "a"))   # the in-process runs' logs
    with quiet:
        return _campaign(folder, trials, rng, counts, time.monotonic() + budget_s, log)


def _campaign(folder, trials, rng, counts, t_end, log):
    finished, ckpt, killed = reference_files(folder)

    def record(kind, outcome):
        counts[f"{kind}: {outcome.split(' (')[0]}"] += 1    # details (where a run stopped) in the log only
        log(f"{kind:14s} {outcome}", file=sys.stdout, flush=True)

    plan = []
    for _ in range(trials):
        plan += [("kill", lambda: kill_trial(folder, rng.choice([signal.SIGKILL, signal.SIGTERM]),
                                             rng.random() < 0.5, rng.uniform(0.3, 4.0))),
                 ("damage", lambda: damage_trial(rng.choice([finished, killed]), folder, rng,
                                                 rng.choice(["truncate", "flip"]))),
                 ("checkpoint", lambda: checkpoint_flip_trial(ckpt, folder, rng, rng.random() < 0.7)),
                 ("resume", lambda: resume_trial(folder, rng.uniform(0.05, 1.0)))]
    plan += [("second writer", lambda: second_writer_trial(folder)),
             ("full disk", lambda: full_disk_trial(folder, 2.0)),
             ("full disk", lambda: full_disk_trial(folder, 2.0, tmpfs=False)),
             ("full disk", lambda: full_disk_trial(folder, 0.6, record=False))]
    for kind, trial in plan:
        if time.monotonic() > t_end:
            break
        record(kind, trial())
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20, help="trials of each kind")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="working folder (default: a temporary one)")
    args = ap.parse_args(argv)
    folder = args.out or tempfile.mkdtemp(prefix="spikefa-faults-")
    os.makedirs(folder, exist_ok=True)
    t0 = time.monotonic()
    counts = campaign(folder, args.trials, args.seed)
    print(f"\n{sum(counts.values())} trials in {time.monotonic() - t0:.0f} s, every outcome allowed:")
    for outcome, n in sorted(counts.items()):
        print(f"{n:5d}  {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
