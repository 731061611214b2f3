"""One task, on a Dask worker: its thread limits, its log, resuming its latest attempt's checkpoint.

Dask pickles :func:`run_task` by reference; the package re-exports it as ``spikefa.sweep.run_task``.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
import traceback

from ..errors import OutputError, SpikefaError
from ..runfile import jsonable, run_state
from .plan import _now


def limit_threads(threads: int) -> None:
    """Cap numba's and BLAS's threads in this process (a worker runs one task per thread slot)."""
    try:
        import numba
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:        # BLAS then follows OMP_NUM_THREADS, set when the worker started
        pass


def wait_for_other_writer(path: str, timeout_s: float = 3600.0, poll_s: float = 0.5) -> None:
    """Return once no other process writes ``path`` (its writer lock, spikefa.runlock)."""
    from .. import runlock

    deadline = time.monotonic() + timeout_s
    while (writer := runlock.writer_of(path)) is not None:
        if time.monotonic() > deadline:
            raise OutputError(f"{path}: {runlock.describe(writer)} has written this run file for "
                              f"{timeout_s:.0f} s; stop it or choose another --out")
        time.sleep(poll_s)


def run_task(spec: dict) -> dict:
    """Run one task on a worker; never raises for a failing run (the error is the result)."""
    worker_address = ""
    try:
        from distributed import get_worker
        worker = get_worker()
        worker_address = worker.address
        worker.log_event(spec["topic"], {"id": spec["id"], "sweep": spec["sweep"], "event": "running",
                                         "worker": worker_address, "pid": os.getpid(), "time": _now()})
    except ValueError:          # called outside a worker (tests, debugging)
        pass
    host = worker_address.rsplit(":", 1)[0].split("://")[-1] if worker_address else socket.gethostname()
    limit_threads(int(spec["threads_by_host"].get(host, spec["threads"])))
    t0 = time.perf_counter()
    result = {"id": spec["id"], "sweep": spec["sweep"], "worker": worker_address}
    resume = None
    log_path = spec["log"]
    try:
        log = open(log_path, "a", buffering=1)
    except OSError as exc:
        result.update(status="failed", error=f"{log_path}: cannot write the task's log ({exc.strerror}); "
                                             f"the --out folder must be writable from every worker", wall_s=0.0)
        return result
    # The run's own messages go to its log beside the run file, not between the sweep's progress
    # lines (a worker runs one task per process here, so swapping sys.stdout/stderr is safe).
    with log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        print(f"--- {_now()} task {spec['id']} on {worker_address or socket.gethostname()} "
              f"(pid {os.getpid()})", flush=True)
        try:
            # After Ctrl-C on a shared cluster the cancelled run may still be writing this file:
            # wait for it, and take its result when it finished with this task's parameters.
            from ..runner import RunContext, run_file

            out, resume = spec["out"], None
            attempts = attempt_paths(out)
            states = {}
            for path in reversed(attempts):           # latest attempt first
                wait_for_other_writer(path)
                states[path] = run_state(path)
                status, params, rows = states[path]
                if status == "finished" and params == spec["params"]:
                    print(f"{path} finished earlier with the same parameters; result reused")
                    result.update(status="finished", summary=rows, out=path, wall_s=time.perf_counter() - t0)
                    return result
            for path in reversed(attempts):
                status, params, _ = states[path]
                ckpt = RunContext(model=None, out_path=path).checkpoint_path()
                if status != "missing" and params == spec["params"] and os.path.isfile(ckpt):
                    # an interrupted run with a checkpoint: go on from it into a new file (the
                    # resumed run reads the interrupted one, so that file is kept)
                    resume, out = ckpt, next_attempt_path(attempts[-1])
                    print(f"resuming from {ckpt} into {out}")
                    break
            result["out"] = out
            _, rows = run_file(spec["model"], out, quick=spec["quick"], seed=spec["seed"], resume=resume,
                               overrides=spec["overrides"], show_progress=False, echo=False)
            result.update(status="finished", summary=jsonable(rows))
        except SpikefaError as exc:
            print(f"failed: {exc}")
            hint = (f" (resuming from {os.path.basename(resume)}; delete it to start this task afresh)"
                    if resume else "")
            result.update(status="failed", error=f"{exc}{hint}")
        except Exception as exc:  # a bug in an experiment must not stop the sweep: report it with its place
            traceback.print_exc()
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else ""
            result.update(status="failed", error=f"{type(exc).__name__}: {exc}{where} "
                                                 f"(traceback in {os.path.basename(log_path)})")
        result["wall_s"] = time.perf_counter() - t0
        print(f"{result['status']} after {result['wall_s']:.1f} s")
    return result


_ATTEMPT = re.compile(r"(.*)\.r(\d+)")


def _attempt_base(run_path: str) -> tuple[str, int]:
    stem = os.path.splitext(run_path)[0]
    m = _ATTEMPT.fullmatch(stem)
    return (m.group(1), int(m.group(2))) if m else (stem, 0)


def next_attempt_path(run_path: str) -> str:
    """runs/x.h5 -> runs/x.r1.h5 -> runs/x.r2.h5: the file a resumed attempt writes."""
    base, n = _attempt_base(run_path)
    return f"{base}.r{n + 1}.h5"


def attempt_paths(run_path: str) -> list[str]:
    """The task's first run file and its resumed attempts that exist, oldest first."""
    base, _ = _attempt_base(run_path)
    folder = os.path.dirname(base) or "."
    name = os.path.basename(base)
    found = {0: base + ".h5"}
    for entry in os.listdir(folder) if os.path.isdir(folder) else ():
        m = _ATTEMPT.fullmatch(entry[:-3]) if entry.endswith(".h5") else None
        if m and m.group(1) == name:
            found[int(m.group(2))] = os.path.join(folder, entry)
    return [found[k] for k in sorted(found)]
