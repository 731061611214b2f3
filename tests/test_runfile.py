"""spikefa.runfile: a file left by a killed SWMR writer reads as a killed run, and a sweep resumes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from spikefa import sweep
from spikefa.runfile import open_read, run_state

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# a recording run's writing, killed mid-run: metrics declared, SWMR started, a flush, then SIGKILL
KILLED_WRITER = """
import json, os, sys
from spikefa.config import Model
from spikefa.runfile import RunFile
path, experiment, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
out = RunFile(path, Model(experiment=experiment, params=params, source="test"))
out.declare_metric("fa/test_error")
out.start_swmr()
out.append("fa/test_error", 0.5)
out.flush()
os.kill(os.getpid(), 9)
"""


def killed_swmr_file(path: str, experiment: str, params: dict) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, path, experiment, json.dumps(params)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr


def test_a_killed_swmr_writer_leaves_a_killed_run_that_a_sweep_resumes(tmp_path):
    plan = sweep.plan_sweep(os.path.join(ROOT, "models", "fig2_linear.toml"), seeds=1, quick=True,
                            out_dir=str(tmp_path / "sw"))
    task = plan.tasks[0]
    path = plan.run_path(task)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    killed_swmr_file(path, plan.experiment, sweep.jsonable(task.params))
    with open(path, "rb") as fh:                 # still marked open for SWMR writing
        assert fh.read(12)[11] & 0x5 == 0x5
    status, params, rows = run_state(path)
    assert status == "killed" and params == sweep.jsonable(task.params) and rows == []
    assert sweep._run_file_state(path)[0] == "killed"     # the old name
    with open_read(path) as h5:
        assert list(h5["metrics/fa/test_error"][()]) == [0.5]
    # the sweep's index said one attempt: the task is neither finished nor started afresh
    task.attempts = 1
    sweep.save_index(plan)
    assert sweep.mark_finished_tasks(plan) == 0
    assert task.status != "finished" and task.attempts == 1


def test_an_unreadable_file_is_missing(tmp_path):
    path = tmp_path / "x.h5"
    path.write_bytes(b"not hdf5")
    assert run_state(str(path)) == ("missing", None, [])
    assert run_state(str(tmp_path / "none.h5")) == ("missing", None, [])


def test_compaction_keeps_every_number_of_a_closed_run_and_never_touches_a_live_one(tmp_path):
    import h5py
    import numpy as np

    from spikefa.config import Model
    from spikefa.runfile import RunFile, compact_run

    def closed_run(name, status):
        path = str(tmp_path / name)
        out = RunFile(path, Model(experiment="spiking", params={"seed": 0}, source="t"))
        for i in range(300):
            out.append("fa/test_error", 1.0 / (i + 1))
            out.append("fa/examples_seen", i)
        out.set_status(status)
        out.close()
        return path

    finished, interrupted = closed_run("f.h5", "finished"), closed_run("i.h5", "interrupted")
    with h5py.File(finished) as h5:
        before = h5["metrics/fa/test_error"][()]
    assert compact_run(finished) and not compact_run(finished)          # once
    assert not compact_run(interrupted)                                   # finished runs only, by default
    assert compact_run(interrupted, statuses=("finished", "interrupted"))
    for path in (finished, interrupted):
        with h5py.File(path) as h5:
            np.testing.assert_array_equal(h5["metrics/fa/test_error"][()], before)
            assert h5.attrs["compacted"] and h5["metrics/fa/test_error"].compression == "gzip"
    live = str(tmp_path / "live.h5")
    out = RunFile(live, Model(experiment="spiking", params={"seed": 0}, source="t"))
    out.append("fa/test_error", 0.5)
    out.flush()
    import pytest

    from spikefa.errors import DataError

    with pytest.raises(DataError, match="being written"):      # its writer holds it: not read, not changed
        compact_run(live, statuses=("finished", "interrupted", "running"))
    out.close()
