"""Seed and parameter sweeps: every combination runs as an independent task on Dask.

A sweep expands ``seeds x (--set key=v1,v2 ...)`` into tasks. Each task runs one model file through
:func:`spikefa.runner.run_file` on a dask.distributed worker and writes its own run file in
``OUT/runs/`` (its messages go to ``OUT/runs/<task>.log``). The sweep keeps an index
(``OUT/sweep.json``) naming every task, its parameters, status, output and error, rewritten
atomically whenever a task changes state, and a summary of the metrics across tasks
(``OUT/summary.json`` and ``OUT/summary.txt``).

Resuming: a task is skipped when its run file exists, finished, and holds the parameters the task
would run with now; everything else (pending, running when the sweep was stopped, failed) runs
again. An interrupted run that left a checkpoint (``runs/<task>.ckpt.h5``, written by experiments
that checkpoint) goes on from it into ``runs/<task>.r1.h5`` (then ``.r2`` ...), keeping the
interrupted file it continues; the index's ``out`` names the latest. A worker that dies mid-task has its task rescheduled elsewhere by the scheduler (up to
``distributed.scheduler.allowed-failures`` times); an exception inside a task is caught on the
worker and reported as that task's error, so it never stops the others.

Threads: each task limits numba (and BLAS) to ``cores // workers`` threads, so tasks times threads
matches the machine.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import itertools
import json
import logging
import math
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..errors import ConfigError, OutputError, SpikefaError

INDEX_NAME = "sweep.json"
SUMMARY_JSON = "summary.json"
SUMMARY_TEXT = "summary.txt"
STATUSES = ("pending", "running", "finished", "failed")
_THREAD_ENV = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# -- planning ------------------------------------------------------------------------------------

def split_values(text: str) -> list[str]:
    """Split ``v1,v2,...`` at commas outside brackets and quotes (``[1,2],[3,4]`` is two values)."""
    values, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            values.append(text[start:i].strip())
            start = i + 1
    values.append(text[start:].strip())
    return values


def parse_grid(items: Iterable[str]) -> dict[str, list[str]]:
    """``["train.eta=0.01,0.1", "net.unit=tanh"]`` -> {"train.eta": ["0.01", "0.1"], "net.unit": ["tanh"]}."""
    grid: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=V1,V2,..., e.g. --set train.eta=0.01,0.1")
        key, raw = item.split("=", 1)
        key = key.strip()
        values = split_values(raw)
        if not key or any(v == "" for v in values):
            raise ConfigError(f"--set {item!r}: empty key or value; write KEY=V1,V2,...")
        if key == "seed":
            raise ConfigError(f"--set {item!r}: seeds are swept with --seeds N (and --first-seed), not --set")
        if key in grid:
            raise ConfigError(f"--set {key}: given twice; list all its values in one --set {key}=V1,V2,...")
        grid[key] = values
    return grid


def _safe(text: str) -> str:
    """A file-name-safe form of a task id (brackets and quotes of TOML values dropped)."""
    text = re.sub(r"[\[\]\"']", "", text)
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-") or "x"


@dataclass
class Task:
    """One run of the sweep: a seed and one value of every --set key."""

    id: str
    seed: int
    settings: dict                      # --set key -> value text, for every key of the grid
    out: str                            # run file, relative to the sweep folder (the latest attempt's)
    log: str = ""                       # the task's log, relative to the sweep folder
    status: str = "pending"
    error: str = ""
    attempts: int = 0
    worker: str = ""
    wall_s: float | None = None
    started: str = ""
    ended: str = ""
    summary: list = field(default_factory=list)   # the run's summary rows
    params: dict = field(default_factory=dict)    # resolved parameters (not written to the index)

    def overrides(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.settings.items()]

    def record(self) -> dict:
        keys = ("id", "seed", "settings", "out", "log", "status", "error", "attempts", "worker", "wall_s",
                "started", "ended", "summary")
        return {k: getattr(self, k) for k in keys}


@dataclass
class SweepPlan:
    """Every task of one sweep of one model file, and where its files go."""

    model: str                          # absolute path of the model file
    out_dir: str
    quick: bool
    seeds: list[int]
    grid: dict[str, list[str]]
    tasks: list[Task]
    experiment: str = ""
    title: str = ""
    name: str = ""                      # label in progress and reports
    priority: int = 0                   # larger runs first when several sweeps share a cluster
    created: str = ""

    @property
    def varied(self) -> list[str]:
        return [k for k, v in self.grid.items() if len(v) > 1]

    @property
    def index_path(self) -> str:
        return os.path.join(self.out_dir, INDEX_NAME)

    def run_path(self, task: Task) -> str:
        return os.path.join(self.out_dir, task.out)

    def counts(self) -> dict:
        c = {s: 0 for s in STATUSES}
        for t in self.tasks:
            c[t.status] += 1
        return c


def default_out_dir(model_path: str, quick: bool) -> str:
    stem = os.path.splitext(os.path.basename(model_path))[0]
    return os.path.join("runs", f"sweep-{stem}{'-quick' if quick else ''}")


def plan_sweep(model_path: str, *, seeds: int | Iterable[int] = 1, first_seed: int = 0, sets: Iterable[str] = (),
               out_dir: str | None = None, quick: bool = False, name: str = "", priority: int = 0) -> SweepPlan:
    """Expand seeds x --set values into tasks, validating every combination now (ConfigError)."""
    from ..config import load_model

    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"--seeds {seeds}: need at least 1 seed")
        seed_list = list(range(first_seed, first_seed + seeds))
    else:
        seed_list = list(seeds)
    if first_seed < 0 or any(s < 0 for s in seed_list):
        raise ConfigError("--first-seed: seeds must be >= 0")
    grid = parse_grid(sets)
    model_path = os.path.abspath(model_path)
    out_dir = os.path.abspath(out_dir or default_out_dir(model_path, quick))
    varied = [k for k, v in grid.items() if len(v) > 1]
    tasks, used_names = [], set()
    base = load_model(model_path, quick=quick, seed=seed_list[0])
    keys = list(grid)
    for combo in itertools.product(*(grid[k] for k in keys)):
        settings = dict(zip(keys, combo))
        for seed in seed_list:
            task_id = ",".join([f"{k}={settings[k]}" for k in varied] + [f"seed={seed}"])
            overrides = [f"{k}={v}" for k, v in settings.items()]
            model = load_model(model_path, quick=quick, seed=seed, overrides=overrides)
            fname = _safe(task_id)
            while fname in used_names:          # two ids that differ only in unsafe characters
                fname += "_"
            used_names.add(fname)
            tasks.append(Task(id=task_id, seed=seed, settings=settings, out=os.path.join("runs", fname + ".h5"),
                              log=os.path.join("runs", fname + ".log"), params=model.params))
    stem = os.path.splitext(os.path.basename(model_path))[0]
    return SweepPlan(model=model_path, out_dir=out_dir, quick=quick, seeds=seed_list, grid=grid, tasks=tasks,
                     experiment=base.experiment, title=base.title, name=name or stem, priority=priority,
                     created=_now())


# -- index ---------------------------------------------------------------------------------------

def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def write_json_atomic(path: str, data) -> None:
    """Write JSON so that a reader (or a crash) never sees half a file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=1, default=_json_default)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror}); free disk space or choose another --out") from None


def _json_default(v):
    if hasattr(v, "item"):          # numpy scalars
        return v.item()
    if hasattr(v, "tolist"):
        return v.tolist()
    return str(v)


def jsonable(v):
    """Summary rows as plain Python (numpy scalars -> numbers, NaN kept as float)."""
    return json.loads(json.dumps(v, default=_json_default))


def save_index(plan: SweepPlan) -> None:
    from .. import __version__

    data = {
        "spikefa_version": __version__,
        "model": plan.model,
        "experiment": plan.experiment,
        "title": plan.title,
        "quick": plan.quick,
        "seeds": plan.seeds,
        "grid": plan.grid,
        "created": plan.created,
        "updated": _now(),
        "counts": plan.counts(),
        "tasks": [t.record() for t in plan.tasks],
    }
    write_json_atomic(plan.index_path, data)


def load_index(path: str) -> dict:
    """A sweep's index; raises OutputError when the file is not a readable index."""
    try:
        with open(path) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise OutputError(f"{path}: no sweep index here; give the --out folder of a sweep") from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path}: not a readable sweep index ({exc}); delete it to start the sweep afresh") from None
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise OutputError(f"{path}: not a sweep index (no task list); delete it to start the sweep afresh")
    return data


def _run_file_state(path: str) -> tuple[str, dict | None, list]:
    """(status, params, summary rows) of a run file; ("missing", None, []) when unreadable.

    A file left by a killed run (still marked open for writing, status "running", no live
    writer) reads as "killed", with its parameters: its checkpoint, if any, resumes the task.
    """
    from .. import runlock
    from ..record.files import open_read, reading

    if not os.path.isfile(path):
        return "missing", None, []
    try:
        with open_read(path) as h5, reading(path):
            status = h5.attrs.get("status", "")
            params = json.loads(h5.attrs["params"])
            summary = dict(h5["summary"].attrs) if "summary" in h5 else {}
        rows = rows_from_summary_attrs({k: (v.decode() if isinstance(v, bytes) else v) for k, v in summary.items()})
    except (SpikefaError, OSError, KeyError, ValueError):
        return "missing", None, []
    status = status.decode() if isinstance(status, bytes) else str(status)
    if status == "running" and runlock.writer_of(path) is None:
        status = "killed"
    return status, params, rows


def rows_from_summary_attrs(attrs: dict) -> list[dict]:
    """Undo the runner's flattening of summary rows ("0.arm", "1.arm" ...; a single row unprefixed)."""
    rows: dict[int, dict] = {}
    single: dict = {}
    for k, v in attrs.items():
        if k == "wall_time_s":
            continue
        head, _, rest = k.partition(".")
        if rest and head.isdigit():
            rows.setdefault(int(head), {})[rest] = v
        else:
            single[k] = v
    out = [rows[i] for i in sorted(rows)]
    if single:
        out.insert(0, single)
    return jsonable(out)


def mark_finished_tasks(plan: SweepPlan) -> int:
    """Carry over finished tasks from an earlier run of this sweep; returns how many are done.

    A task counts as finished only when its run file says so and holds the same parameters the
    task would run with now (so editing the model file reruns what it changed).
    """
    previous = {}
    if os.path.exists(plan.index_path):
        data = load_index(plan.index_path)
        if data.get("experiment") not in (None, plan.experiment):
            raise OutputError(f"{plan.out_dir} holds a sweep of experiment {data['experiment']!r} "
                              f"({data.get('model')}), not {plan.experiment!r}; choose another --out")
        previous = {t.get("id"): t for t in data["tasks"] if isinstance(t, dict)}
        plan.created = data.get("created", plan.created)
    done = 0
    expected_params = {}
    for task in plan.tasks:
        old = previous.get(task.id, {})
        latest = old.get("out")
        if isinstance(latest, str) and latest != task.out and os.path.isfile(os.path.join(plan.out_dir, latest)):
            task.out = latest           # the task resumed from a checkpoint into a new file
        status, params, rows = _run_file_state(plan.run_path(task))
        expected = expected_params.setdefault(task.id, jsonable(task.params))
        if status == "finished" and params == expected:
            task.status = "finished"
            task.summary = old.get("summary") or rows
            for k in ("attempts", "worker", "wall_s", "started", "ended"):
                if old.get(k) is not None:
                    setattr(task, k, old[k])
            done += 1
        else:
            task.attempts = int(old.get("attempts") or 0) if params == expected else 0
    return done


# -- summary across tasks --------------------------------------------------------------------------

def _is_metric(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def summarize(plan: SweepPlan) -> list[dict]:
    """Mean, spread (sample std) and n of every numeric summary column across seeds.

    Rows are grouped by the values of the varied --set keys and the row's place in the summary
    (one row per arm); text columns equal across the group's seeds (``arm``) label it, text columns
    that differ between seeds (a file path) are left out.
    """
    grouped: dict[tuple, list] = {}
    for task in plan.tasks:
        if task.status != "finished":
            continue
        combo = tuple((k, task.settings[k]) for k in plan.varied)
        for pos, row in enumerate(task.summary):
            grouped.setdefault((combo, pos), []).append((task.seed, row))
    out = []
    for (combo, _), members in grouped.items():
        columns: list[str] = []
        for _, row in members:
            columns += [k for k in row if k not in columns]
        labels, metrics = {}, {}
        for k in columns:
            values = [row[k] for _, row in members if k in row]
            if all(_is_metric(v) for v in values):
                finite = [float(v) for v in values if math.isfinite(v)]
                n = len(finite)
                mean = sum(finite) / n if n else float("nan")
                std = (math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1
                       else 0.0 if n else float("nan"))
                metrics[k] = {"mean": mean, "std": std, "n": n, "values": [float(v) for v in values]}
            elif len({json.dumps(v, sort_keys=True, default=str) for v in values}) == 1:
                labels[k] = values[0]
        out.append({"settings": dict(combo), "labels": labels, "seeds": [seed for seed, _ in members],
                    "metrics": metrics})
    return out


def _fmt_number(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.3g}"
    return f"{v:.4g}"


def summary_table(plan: SweepPlan, groups: list[dict], relative_to: str | None = None) -> str:
    """The summary as a text table; text cells naming paths under ``relative_to`` shown relative to it."""
    from ..progress import format_table

    inside = relative_to.rstrip(os.sep) + os.sep if relative_to else None

    def shown(v):
        if inside and isinstance(v, str) and v.startswith(inside):
            return os.path.relpath(v, relative_to)
        return v

    columns: list[str] = []
    for part in ("settings", "labels", "metrics"):
        for g in groups:
            columns += [k for k in g[part] if k not in columns]
    rows = []
    for g in groups:
        row = dict.fromkeys(columns, "")
        row.update(g["settings"])
        row.update({k: shown(v) for k, v in g["labels"].items()})
        for k, m in g["metrics"].items():
            varies = m["n"] > 1 and len(set(m["values"])) > 1
            row[k] = _fmt_number(m["mean"]) + (f" ± {_fmt_number(m['std'])}" if varies else "")
        row["n"] = max((m["n"] for m in g["metrics"].values()), default=0)
        rows.append(row)
    c = plan.counts()
    title = (f"{plan.title or plan.name}: mean ± std over seeds "
             f"({c['finished']} finished, {c['failed']} failed of {len(plan.tasks)} tasks)")
    return format_table(rows, title) if rows else f"{title}\n(no finished tasks)"


def write_summary(plan: SweepPlan) -> str:
    groups = summarize(plan)
    text = summary_table(plan, groups)
    write_json_atomic(os.path.join(plan.out_dir, SUMMARY_JSON),
                      {"model": plan.model, "quick": plan.quick, "varied": plan.varied, "groups": groups})
    try:
        with open(os.path.join(plan.out_dir, SUMMARY_TEXT), "w") as fh:
            fh.write(text + "\n")
    except OSError as exc:
        raise OutputError(f"{plan.out_dir}: cannot write {SUMMARY_TEXT} ({exc.strerror})") from None
    return text


# -- the task, on a worker -------------------------------------------------------------------------

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
                states[path] = _run_file_state(path)
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


# -- running ----------------------------------------------------------------------------------------

@dataclass
class ClusterInfo:
    client: object
    workers: int
    threads_per_task: int
    threads_by_host: dict
    local: bool


@contextmanager
def _children_ignore_ctrl_c():
    """Processes started inside this block ignore SIGINT (inherited through exec) and stay quiet.

    Ctrl-C reaches every process of the terminal's group: the workers would each print a
    traceback of their interrupted task. The sweep's own process handles it and closes the
    cluster, which stops the workers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    # after Ctrl-C, multiprocessing's resource tracker (started here) warns about the workers'
    # semaphores, which the closing cluster removes anyway
    warnings = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [warnings, "ignore:resource_tracker:UserWarning"]))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if warnings is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = warnings


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None):
    """A client on ``scheduler``, or on a new local cluster of ``workers`` processes (default: cores)."""
    from distributed import Client, LocalCluster

    cores = os.cpu_count() or 1
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc}); start one with "
                              f"`dask scheduler` and `dask worker ADDRESS`, or omit --scheduler") from None
        try:
            info = client.scheduler_info()["workers"]
            if not info:
                client.wait_for_workers(1, timeout=30)
                info = client.scheduler_info()["workers"]
            host_cores = client.run(os.cpu_count)
            slots: dict[str, int] = {}
            cores_at: dict[str, int] = {}
            for addr, w in info.items():
                slots[w["host"]] = slots.get(w["host"], 0) + int(w["nthreads"])
                cores_at[w["host"]] = int(host_cores.get(addr) or 1)
            by_host = {h: max(1, cores_at[h] // slots[h]) for h in slots}
            total = sum(int(w["nthreads"]) for w in info.values())
            yield ClusterInfo(client, total, 1, by_host, local=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"--scheduler {scheduler}: no workers answered ({exc}); start workers with "
                              f"`dask worker {scheduler}`") from None
        finally:
            client.close()
        return
    workers = workers or cores
    if workers < 1:
        raise ConfigError(f"--workers {workers}: need at least 1 worker")
    threads = max(1, cores // workers)
    env = {name: str(threads) for name in _THREAD_ENV}
    # Workers are processes with one task slot each: numba and numpy release the GIL unevenly, and
    # a crash or kill takes down one task, not all of them.
    with _children_ignore_ctrl_c():
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, env=env,
                               dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield ClusterInfo(client, workers, threads, {}, local=True)
    finally:
        client.close()
        cluster.close()


@dataclass
class SweepOutcome:
    plan: SweepPlan
    skipped: int
    elapsed_s: float | None         # first start to last end of its finished tasks (earlier runs included)
    task_seconds: float             # sum of the tasks' wall times (all runs, incl. earlier ones)
    summary_text: str = ""


def run_sweeps(plans: list[SweepPlan], *, scheduler: str | None = None, workers: int | None = None,
               client_info: ClusterInfo | None = None, show_progress: bool = True, echo: bool = True,
               on_event: Callable[[SweepPlan, Task, str], None] | None = None,
               execute: bool = True) -> list[SweepOutcome]:
    """Run every unfinished task of ``plans`` on one Dask cluster; returns one outcome per plan
    (with ``execute`` False, runs nothing: the outcomes of what earlier runs finished).

    ``on_event(plan, task, event)`` is called in this thread for "running", "finished", "failed".
    Ctrl-C stops the sweep: tasks not finished go back to pending in the index, and a rerun resumes.
    """
    skipped = {}
    from ..runner import make_out_folder

    for plan in plans:
        make_out_folder(os.path.join(plan.out_dir, "runs"))
        skipped[plan.name] = mark_finished_tasks(plan)
        for task in plan.tasks:
            if task.status != "finished":
                task.status, task.error, task.worker = "pending", "", ""
        save_index(plan)
    # seed by seed within a plan: a sweep stopped part-way has every setting of its first seeds
    todo = [(p, t) for p in sorted(plans, key=lambda p: -p.priority)
            for t in sorted(p.tasks, key=lambda t: p.seeds.index(t.seed) if t.seed in p.seeds else 0)
            if t.status != "finished"]
    if echo:
        for plan in plans:
            n_skip = skipped[plan.name]
            if n_skip:
                print(f"{plan.name}: {n_skip} of {len(plan.tasks)} tasks already finished in {plan.out_dir}; "
                      f"running the other {len(plan.tasks) - n_skip}", file=sys.stderr)
    if todo and execute:
        if client_info is not None:
            _execute(todo, client_info, show_progress, on_event)
        else:
            with dask_client(scheduler, workers) as info:
                _execute(todo, info, show_progress, on_event)
    outcomes = []
    for plan in plans:
        text = write_summary(plan)
        if echo:
            print(text)
            for t in plan.tasks:
                if t.status == "failed":
                    print(f"  failed {t.id}: {t.error}", file=sys.stderr)
            print(f"index: {plan.index_path}")
        outcomes.append(SweepOutcome(plan, skipped[plan.name], span_seconds(plan),
                                     sum(t.wall_s or 0.0 for t in plan.tasks), text))
    return outcomes


def span_seconds(plan: SweepPlan) -> float | None:
    """Seconds from the first start to the last end of the plan's finished tasks."""
    done = [t for t in plan.tasks if t.status == "finished" and t.started and t.ended]
    if not done:
        return None
    try:
        first = min(_dt.datetime.fromisoformat(t.started) for t in done)
        last = max(_dt.datetime.fromisoformat(t.ended) for t in done)
    except ValueError:          # an index edited by hand
        return None
    return (last - first).total_seconds()


def _execute(todo, info: ClusterInfo, show_progress, on_event):
    from distributed.client import FutureCancelledError

    from ..progress import bar

    client = info.client
    run_id = uuid.uuid4().hex[:8]
    topic = f"spikefa-sweep-{run_id}"
    events: queue.Queue = queue.Queue()
    client.subscribe_topic(topic, lambda event: events.put(event[1] if isinstance(event, tuple) else event))
    by_key = {}
    plans = {p.name: p for p, _ in todo}
    n_plans = len(plans)
    futures = []
    for rank, (plan, task) in enumerate(todo):
        spec = {"id": task.id, "sweep": plan.name, "topic": topic, "model": plan.model, "out": plan.run_path(task),
                "log": os.path.join(plan.out_dir, task.log), "quick": plan.quick, "seed": task.seed,
                "overrides": task.overrides(), "params": jsonable(task.params),
                "threads": info.threads_per_task, "threads_by_host": info.threads_by_host}
        key = f"spikefa-{run_id}-{_safe(plan.name)}-{_safe(task.id)}"
        # submission order is the priority: larger sweeps and earlier tasks first
        fut = client.submit(run_task, spec, key=key, pure=False, priority=-rank)
        by_key[key] = (plan, task)
        futures.append(fut)
    running = set()
    failed = 0
    desc = "sweep" if n_plans == 1 else f"{n_plans} sweeps"
    progress = bar(total=len(futures), desc=desc, unit="task", enabled=show_progress)

    def emit(plan, task, event):
        save_index(plan)
        if on_event is not None:
            on_event(plan, task, event)

    try:
        remaining = list(futures)
        while remaining:
            changed = False
            while True:
                try:
                    msg = events.get_nowait()
                except queue.Empty:
                    break
                plan = plans.get(msg.get("sweep"))
                task = next((t for t in plan.tasks if t.id == msg.get("id")), None) if plan else None
                if task is None or task.status in ("finished", "failed"):
                    continue
                task.status, task.worker, task.started = "running", msg.get("worker", ""), msg.get("time", _now())
                task.attempts += 1
                running.add((plan.name, task.id))
                emit(plan, task, "running")
                changed = True
            still = []
            for fut in remaining:
                if not fut.done():
                    still.append(fut)
                    continue
                plan, task = by_key[fut.key]
                try:
                    result = fut.result()
                except FutureCancelledError:
                    result = {"status": "failed", "error": "cancelled by the scheduler", "wall_s": None}
                except Exception as exc:   # KilledWorker and other scheduler-side failures
                    reason = str(exc)
                    if type(exc).__name__ == "KilledWorker":
                        reason = ("its worker died every time it ran it "
                                  "(distributed.scheduler.allowed-failures reached; out of memory?)")
                    result = {"status": "failed", "error": f"{type(exc).__name__}: {reason}", "wall_s": None}
                task.status = result["status"]
                if result.get("out"):
                    task.out = os.path.relpath(result["out"], plan.out_dir)
                task.error = result.get("error", "")
                task.summary = result.get("summary", [])
                task.wall_s = result.get("wall_s")
                task.worker = result.get("worker", task.worker)
                task.ended = _now()
                if not task.started:        # finished before its "running" event came through
                    back = _dt.timedelta(seconds=task.wall_s or 0.0)
                    task.started = (_dt.datetime.now() - back).isoformat(timespec="seconds")
                task.attempts = max(task.attempts, 1)
                running.discard((plan.name, task.id))
                if task.status == "failed":
                    failed += 1
                progress.update(1)
                emit(plan, task, task.status)
                changed = True
            remaining = still
            if changed:
                progress.set_postfix_str(f"running {len(running)}, failed {failed}", refresh=True)
            if remaining and not changed:
                time.sleep(0.2)
    except KeyboardInterrupt:
        for fut in futures:
            fut.cancel()
        for plan in plans.values():
            for task in plan.tasks:
                if task.status == "running":
                    task.status = "pending"
            save_index(plan)
        raise
    finally:
        progress.close()
        try:
            client.unsubscribe_topic(topic)
        except Exception:  # the client may already be gone after Ctrl-C
            pass
