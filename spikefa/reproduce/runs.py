"""The run files of a part: taking finished ones from a committed report, projecting the time of
the rest and drawing the part's figures (compacting and merging seeds: :mod:`spikefa.runfile.merge`)."""

from __future__ import annotations

import os

from ..errors import SpikefaError
from ..runfile import compact_run, merge_runs, run_state
from ..sweep import SweepPlan
from .part import Part

__all__ = ["compact_run", "merge_runs", "reuse_finished_runs", "projected_seconds", "draw_figures"]


def reuse_finished_runs(plan: SweepPlan, source_dir: str) -> int:
    """Copy the finished run files of ``source_dir`` (an earlier report's part folder) that this
    plan's tasks would write, do not have yet, and would write with the same parameters; returns
    how many. A run of an older model file is left where it is: the sweep runs that task anew."""
    import shutil

    from ..runfile.state import jsonable
    from ..sweep.index import experiment_schema, same_params

    copied = 0
    schema = experiment_schema(plan.experiment)
    for task in plan.tasks:
        src = os.path.join(source_dir, task.out)
        dst = plan.run_path(task)
        if os.path.exists(dst) or not os.path.isfile(src):
            continue
        status, params, _ = run_state(src)
        if status != "finished" or not same_params(params, jsonable(task.params), schema):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst + ".part")
        os.replace(dst + ".part", dst)
        copied += 1
    return copied


def projected_seconds(plan: SweepPlan) -> float | None:
    """Task time the plan's unfinished tasks will take here, when their experiment can say."""
    from .. import experiments

    estimate = getattr(experiments.get(plan.experiment), "estimate_seconds", None)
    if estimate is None:
        return None
    todo = [t for t in plan.tasks if t.status != "finished"]
    if not todo:
        return 0.0
    return sum(estimate(t.params) for t in todo[:1]) * len(todo)


def draw_figures(part: Part, plan: SweepPlan, out_dir: str) -> tuple[list[str], str]:
    """Draw every figure the part's runs have data for into the part's ``figures`` folder.

    Several finished runs are merged first (spikefa.plot then draws mean and spread over seeds).
    Returns the PNG paths relative to ``out_dir`` and a note on what was drawn from.
    """
    try:
        from .. import plot
    except ImportError:
        return [], "figures not drawn: spikefa.plot is not installed"
    finished = [t for t in plan.tasks if t.status == "finished"]
    if not finished:
        return [], "figures not drawn: no run finished"
    paths = [plan.run_path(t) for t in finished]
    part_dir = plan.out_dir
    fig_dir = os.path.join(part_dir, "figures")
    os.makedirs(fig_dir, exist_ok=True)
    try:
        source = paths[0] if len(paths) == 1 else merge_runs(paths, os.path.join(part_dir, "merged.h5"))
        written = plot.plot_all(source, fig_dir)
    except (SpikefaError, OSError, KeyError, ValueError) as exc:
        return [], f"figures not drawn: {exc}"
    pngs = [p for paths_ in written.values() for p in paths_ if p.endswith(".png")]
    note = f"from {len(paths)} runs" if len(paths) > 1 else f"from run {finished[0].id}"
    return [os.path.relpath(p, out_dir) for p in pngs], note
