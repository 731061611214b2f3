"""The sweep's index (``sweep.json``), written atomically; which tasks their run files say are finished
(read by :func:`spikefa.runfile.run_state`)."""

from __future__ import annotations

import json
import os

from ..errors import OutputError
from ..runfile.state import json_default, jsonable, rows_from_summary_attrs, run_state, run_wall_seconds
from .plan import SweepPlan, _now

# the old names: spikefa.reproduce and the fault tests read a run file's state as _run_file_state
_run_file_state = run_state
__all__ = ["write_json_atomic", "save_index", "load_index", "mark_finished_tasks", "jsonable",
           "rows_from_summary_attrs", "run_state", "_run_file_state"]


def write_json_atomic(path: str, data) -> None:
    """Write JSON so that a reader (or a crash) never sees half a file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=1, default=json_default)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror}); free disk space or choose another --out") from None


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
    schema = experiment_schema(plan.experiment)
    for task in plan.tasks:
        old = previous.get(task.id, {})
        latest = old.get("out")
        if isinstance(latest, str) and latest != task.out and os.path.isfile(os.path.join(plan.out_dir, latest)):
            task.out = latest           # the task resumed from a checkpoint into a new file
        status, params, rows = run_state(plan.run_path(task))
        expected = expected_params.setdefault(task.id, jsonable(task.params))
        same = same_params(params, expected, schema)
        if status == "finished" and same:
            task.status = "finished"
            # the run file's own summary: the file may have been replaced since the index was
            # written (a committed run copied in), and the index must not keep the old one's numbers
            task.summary = rows or old.get("summary")
            for k in ("attempts", "worker", "wall_s", "started", "ended"):
                if old.get(k) is not None:
                    setattr(task, k, old[k])
            if task.wall_s is None:     # a run copied in without its index: its task time is its own
                task.wall_s = run_wall_seconds(plan.run_path(task))
            done += 1
        else:
            task.attempts = int(old.get("attempts") or 0) if same else 0
    return done


def experiment_schema(experiment: str) -> dict | None:
    from .. import experiments

    try:
        return experiments.schema(experiment)
    except Exception:                   # an unknown experiment: parameters must then match exactly
        return None


def same_params(run: dict | None, expected: dict, schema: dict | None) -> bool:
    """The run file's parameters are the task's. A key the run file lacks counts as the schema's
    default for it: a run made before the key existed ran as its default does (a new key keeps old
    behaviour at its default), so adding a key does not rerun every finished task."""
    if run == expected:
        return True
    if not isinstance(run, dict) or schema is None:
        return False
    return _same(run, expected, schema)


def _same(run, expected, schema) -> bool:
    if not (isinstance(run, dict) and isinstance(expected, dict) and isinstance(schema, dict)):
        return run == expected
    if not set(run) <= set(expected):
        return False
    for key, value in expected.items():
        spec = schema.get(key)
        if key in run:
            if not _same(run[key], value, spec if isinstance(spec, dict) else None):
                return False
        elif spec is None or isinstance(spec, dict) or jsonable(spec.default) != value:
            return False
    return True
