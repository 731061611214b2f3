"""Running sweeps on one Dask cluster: the client, submission by priority, events into the index."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import queue
import signal
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from ..errors import ConfigError
from .index import jsonable, mark_finished_tasks, save_index
from .plan import SweepPlan, Task, _now, _safe
from .summary import write_summary
from .worker import run_task

_THREAD_ENV = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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
