"""The run files of a part: compacting finished ones, taking them from a committed report,
projecting the time of the rest, merging seeds and drawing the part's figures."""

from __future__ import annotations

import os

from ..errors import SpikefaError
from ..sweep import SweepPlan
from .paper import Part


def merge_runs(paths: list[str], out_path: str) -> str:
    """One run file holding every arm and seed of ``paths``, for figures across a whole sweep.

    Each arm's seeds become ``/metrics/<arm>/seed<j>`` (numbered across files); /results and any
    recordings come from the first file; the header attributes from the first file too.
    """
    import h5py

    from ..plot import metrics as plot_metrics

    with h5py.File(out_path, "w") as dst:
        next_seed: dict[str, int] = {}
        for i, path in enumerate(paths):
            with h5py.File(path, "r") as src:
                if i == 0:
                    for k, v in src.attrs.items():
                        dst.attrs[k] = v
                    for name in src:
                        if name != "metrics":
                            src.copy(src[name], dst, name)
                for arm, groups in plot_metrics.arms(src).items():
                    for g in groups:
                        j = next_seed.get(arm, 0)
                        next_seed[arm] = j + 1
                        target = dst.require_group(f"metrics/{arm}" if arm else "metrics")
                        seed_group = target.create_group(f"seed{j}")
                        for key, value in g.items():
                            if isinstance(value, h5py.Dataset):
                                src.copy(value, seed_group, key)
    return out_path


def compact_run(path: str) -> bool:
    """Rewrite a finished run file with every dataset stored whole and compressed (atomically).

    Metrics stream into 32 KB chunks while a run goes; a finished Figure 3a run holds a few
    thousand numbers in a dozen such chunks. Compacted, the finished runs of a full report are
    small enough to commit, so a later session on a fresh machine resumes the sweep from them.
    Returns False (and leaves the file) when it is not a finished run or is already compact.
    """
    import h5py
    import numpy as np

    with h5py.File(path, "r") as src:
        status = src.attrs.get("status", "")
        status = status.decode() if isinstance(status, bytes) else str(status)
        if status != "finished" or src.attrs.get("compacted", False):
            return False
        tmp = path + ".compact"
        with h5py.File(tmp, "w", track_order=True) as dst:
            for k, v in src.attrs.items():
                dst.attrs[k] = v
            dst.attrs["compacted"] = True

            def copy(name, obj):
                if isinstance(obj, h5py.Group):
                    g = dst.create_group(name, track_order=True)
                    for k, v in obj.attrs.items():
                        g.attrs[k] = v
                    return
                data = obj[()]
                big = isinstance(data, np.ndarray) and data.size > 16
                ds = dst.create_dataset(name, data=data, compression="gzip" if big else None,
                                        shuffle=big)
                for k, v in obj.attrs.items():
                    ds.attrs[k] = v
            src.visititems(copy)
    os.replace(tmp, path)
    return True


def reuse_finished_runs(plan: SweepPlan, source_dir: str) -> int:
    """Copy the finished run files of ``source_dir`` (an earlier report's part folder) that this
    plan's tasks would write and do not have yet; returns how many. The sweep then skips those
    whose parameters still match (a changed model file reruns them)."""
    import shutil

    from ..sweep import _run_file_state

    copied = 0
    for task in plan.tasks:
        src = os.path.join(source_dir, task.out)
        dst = plan.run_path(task)
        if os.path.exists(dst) or not os.path.isfile(src):
            continue
        status, params, _ = _run_file_state(src)
        if status != "finished":
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
