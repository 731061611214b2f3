"""Reproduce the paper in one command: run every figure's model file as a sweep, draw, report.

``reproduce(out_dir)`` runs the parts in :data:`PARTS` (one model file each, several
seeds) together on one Dask cluster through :mod:`spikefa.sweep`, draws each part's figures with
:mod:`spikefa.plot`, checks every claim in :data:`CLAIMS` against the run files, and writes
``report.md`` with the figures beside it.

  paper.py    the paper's parts and claims, as data
  extract.py  our numbers from the run files (the figures' reader)
  checks.py   the check that decides "reached", and a claim's result
  parts.py    which parts run at which size: sweep plans
  runs.py     a part's run files: compact, reuse, project, merge, draw
  report.py   report.md
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from dataclasses import dataclass

from ..errors import ConfigError, OutputError
from ..sweep import mark_finished_tasks, run_sweeps
from .checks import Check, Claim, ClaimResult, evaluate, format_ours
from .extract import AtExamples, GapShare, Metric, Ratio, Runs, Summary, TTest, seed_arrays
from .paper import CLAIMS, PARTS, part_names
from .part import Part
from .parts import models_dir, parse_part_sets, part_sizes, plan_parts, select_parts
from .report import REPORT_NAME, PartReport, _command_line, _duration, machine_info, render_report, versions
from .runs import compact_run, draw_figures, merge_runs, projected_seconds, reuse_finished_runs

__all__ = ["reproduce", "Report", "PARTS", "CLAIMS", "Part", "Claim", "Check", "ClaimResult", "evaluate",
           "format_ours", "Runs", "Metric", "AtExamples", "Ratio", "TTest", "GapShare", "Summary", "seed_arrays",
           "part_names", "models_dir", "select_parts", "parse_part_sets", "part_sizes", "plan_parts",
           "compact_run", "reuse_finished_runs", "projected_seconds", "merge_runs", "draw_figures",
           "machine_info", "versions", "REPORT_NAME"]


def reproduce(out_dir: str, *, quick: bool = True, full_parts: str | None = None, only: str | None = None,
              scheduler: str | None = None, workers: int | None = None, seeds: int | None = None,
              models: str | None = None, sets=(), show_progress: bool = True, echo: bool = True,
              reuse_from: str | None = None, report_only: bool = False) -> "Report":
    """Run the selected parts, draw, check the claims, write ``out_dir/report.md``.

    Every part runs its quick size when ``quick`` (its full size otherwise); ``full_parts``
    ("fig2,fig5") runs those parts at full size and the others quick. ``sets`` holds
    "PART:KEY=VALUE" overrides (e.g. "fig4:network.backend=cuda"). ``reuse_from`` is a report
    folder (the committed ``reports/full``) whose finished run files are copied in first, so
    a fresh machine resumes a study from what earlier sessions committed. ``report_only`` runs
    nothing: the report of what is finished, saying what is not.
    """
    t0 = time.perf_counter()
    started = _dt.datetime.now()
    parts = select_parts(only)
    sizes = part_sizes(parts, quick, full_parts)
    out_dir = os.path.abspath(out_dir)
    from ..runner import make_out_folder

    make_out_folder(out_dir)
    planned, missing = plan_parts(parts, out_dir, sizes, models, seeds, parse_part_sets(sets))
    if reuse_from and os.path.abspath(reuse_from) != out_dir:
        for part, plan in planned:
            source = os.path.join(reuse_from, os.path.basename(plan.out_dir))
            n = reuse_finished_runs(plan, source)
            if n and echo:
                print(f"{part.name}: {n} finished runs taken from {source}")
    if not planned:
        reasons = "; ".join(f"{p.name}: {why}" for p, why in missing)
        raise ConfigError(f"nothing to reproduce ({reasons}); run from a checkout of spikefa or give --models DIR")
    if echo and not report_only:
        n_workers = workers or os.cpu_count() or 1
        for part, plan in planned:
            done = mark_finished_tasks(plan)
            seconds = projected_seconds(plan)
            if seconds:
                print(f"{part.name}: {len(plan.tasks) - done} of {len(plan.tasks)} runs to go, projected "
                      f"{_duration(seconds)} of task time (about {_duration(seconds / n_workers)} on "
                      f"{n_workers} workers)", flush=True)
    outcomes = run_sweeps([plan for _, plan in planned], scheduler=scheduler, workers=workers,
                          show_progress=show_progress, echo=echo, execute=not report_only)
    for _, plan in planned:
        for t in plan.tasks:
            if t.status == "finished" and os.path.isfile(plan.run_path(t)):
                compact_run(plan.run_path(t))
    reports = {p.name: PartReport(p, None, skipped_reason=why) for p, why in missing}
    for (part, plan), outcome in zip(planned, outcomes):
        rep = PartReport(part, plan, outcome)
        t = time.perf_counter()
        rep.figures, rep.figures_note = draw_figures(part, plan, out_dir)
        rep.plot_s = time.perf_counter() - t
        reports[part.name] = rep
    results = []
    for claim in CLAIMS:
        if claim.part not in {p.name for p in parts}:
            continue
        rep = reports.get(claim.part)
        runs = None
        if rep is not None and rep.plan is not None:
            done = [t for t in rep.plan.tasks if t.status == "finished"]
            runs = Runs(rep.part, rep.plan, [rep.plan.run_path(t) for t in done], done)
        results.append(evaluate(claim, runs, sizes[claim.part] == "quick"))
    wall = time.perf_counter() - t0
    text = render_report([reports[p.name] for p in parts], results, sizes=sizes, wall_s=wall, started=started,
                         command=_command_line(sizes, only, scheduler, workers, seeds, sets, report_only),
                         appendix_dirs=(reuse_from,))
    path = os.path.join(out_dir, REPORT_NAME)
    try:
        with open(path + ".tmp", "w") as fh:
            fh.write(text)
        os.replace(path + ".tmp", path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the report ({exc.strerror}); choose another --out") from None
    report = Report(path, results, sum(rep.plan.counts()["failed"] for rep in reports.values() if rep.plan))
    if echo:
        reached = sum(r.status == "reached" for r in results)
        failed = f"; {report.failed_tasks} runs failed (see the report)" if report.failed_tasks else ""
        print(f"{reached} of {len(results)} claims reached{failed}; report: {path}  ({wall / 60:.1f} min)")
    return report


@dataclass
class Report:
    path: str
    claims: list[ClaimResult]
    failed_tasks: int
