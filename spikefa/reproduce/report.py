"""report.md: the claims table, the parts with their protocol, summaries, figures and studies,
the machine and the versions."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field

from ..sweep import SweepOutcome, SweepPlan, summarize, summary_table
from .checks import ClaimResult, format_ours
from .part import Part

REPORT_NAME = "report.md"


@dataclass
class PartReport:
    part: Part
    plan: SweepPlan | None
    outcome: SweepOutcome | None = None
    figures: list = field(default_factory=list)
    figures_note: str = ""
    plot_s: float = 0.0
    skipped_reason: str = ""


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        import psutil
        mem = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "os": platform.platform(),
            "python": platform.python_version()}


def versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("spikefa", "numpy", "numba", "scipy", "h5py", "matplotlib", "dask", "distributed"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _command_line(sizes, only, scheduler, workers, seeds, sets=(), report_only=False) -> str:
    full = [name for name, size in sizes.items() if size == "full"]
    if not full:
        size = "--quick"
    elif len(full) == len(sizes):
        size = "--full"
    else:
        size = "--full " + ",".join(full)
    parts = ["spikefa reproduce", size]
    if only:
        parts.append(f"--only {only}")
    if seeds:
        parts.append(f"--seeds {seeds}")
    if workers:
        parts.append(f"--workers {workers}")
    if scheduler:
        parts.append(f"--scheduler {scheduler}")
    parts += [f"--set {item}" for item in sets]
    if report_only:
        parts.append("--report-only")
    return " ".join(parts)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def appendix_lines(part: Part, out_dir: str, search: tuple = ()) -> list[str]:
    """The part's appendix files (from its folder, else from a committed report's), copied into
    its folder so the report's links work, as report lines."""
    import shutil

    lines = []
    for name in part.appendix:
        stem = os.path.splitext(name)[0]
        for folder in (out_dir, *(os.path.join(d, part.name) for d in search if d)):
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                continue
            for extra in (name, stem + ".png", stem + ".json"):
                src, dst = os.path.join(folder, extra), os.path.join(out_dir, extra)
                if os.path.isfile(src) and os.path.abspath(src) != os.path.abspath(dst):
                    shutil.copyfile(src, dst)
            with open(os.path.join(out_dir, name)) as fh:
                lines += [fh.read().rstrip(), ""]
            if os.path.isfile(os.path.join(out_dir, stem + ".png")):
                rel = os.path.join(os.path.basename(out_dir), stem + ".png")
                lines += [f"![{stem}.png]({rel})", ""]
            break
    return lines


def render_report(parts: list[PartReport], results: list[ClaimResult], *, sizes: dict, wall_s: float,
                  started, command: str, appendix_dirs: tuple = ()) -> str:
    full = [rep.part.name for rep in parts if sizes[rep.part.name] == "full"]
    quick = [rep.part.name for rep in parts if sizes[rep.part.name] == "quick"]
    reached = sum(r.status == "reached" for r in results)
    reused = sum(rep.outcome.skipped for rep in parts if rep.outcome)
    total = sum(len(rep.plan.tasks) for rep in parts if rep.plan)
    task_time = sum(rep.outcome.task_seconds for rep in parts if rep.outcome)
    made = f"Made by `{command}` on {started:%Y-%m-%d %H:%M}, in {_duration(wall_s)} of wall time"
    unfinished = [(rep.part.name, rep.plan.counts()["finished"], len(rep.plan.tasks)) for rep in parts
                  if rep.plan and rep.plan.counts()["finished"] < len(rep.plan.tasks)]
    if command.endswith("--report-only"):
        made += f", from the {reused} of {total} runs finished so far (it ran none)"
    elif reused:
        made += (f" ({reused} of {total} runs were already finished in this folder from an earlier "
                 f"invocation and were reused)")
    lines = [
        "# spikefa: what it reproduces of Lillicrap et al. (2016)",
        "",
        f"{made}; the runs took {_duration(task_time)} of task time in all. "
        f"{reached} of {len(results)} claims reached.",
        "",
    ]
    if unfinished:
        lines += ["**Partial:** " + "; ".join(f"{name}: {done} of {total} runs finished" for name, done, total
                                              in unfinished)
                  + ". Its claims read the finished runs only; the same command resumes the rest.", ""]
    quick_text = ("ran its scaled-down `--quick` version (fewer examples, smaller networks, fewer seeds), so "
                  "absolute numbers such as test errors are not expected to reach the paper's; the "
                  "qualitative claims should hold")
    full_text = "ran the paper's protocol as its model file states it (the model files' comments say where they differ)"
    if not full:
        lines += [f"**Size: quick.** Every part {quick_text}. Run `spikefa reproduce --full` for the paper's "
                  "protocol.", ""]
    elif not quick:
        lines += [f"**Size: full.** Every part {full_text}.", ""]
    else:
        lines += [f"**Size: mixed.** Full size: {', '.join(full)}: each {full_text}. Quick size: "
                  f"{', '.join(quick)}: each {quick_text}.", ""]
    lines += ["## Claims", "",
              "| Figure | Claim | Paper | Reached when ours is | Ours (mean ± std, n) | Result |",
              "|---|---|---|---|---|---|"]
    for r in results:
        c = r.claim
        result = {"reached": "reached", "missed": "**missed**", "no data": "no data"}[r.status]
        if r.note:
            result += f" ({r.note})"
        lines.append("| " + " | ".join(_md_cell(x) for x in (
            c.figure, c.text, c.paper, c.check.describe(c.unit), format_ours(r), result)) + " |")
    lines += ["", "n counts runs (seeds); a p-value's n is the two samples' sizes.", "",
              "## Parts", "",
              "Parts ran together on one Dask cluster, so their spans (first task start to last task "
              "end) overlap; task time is the sum of the wall times of the part's tasks.", "",
              "| Part | Figure | Model file | Size | Seeds | Tasks finished / failed | Span | Task time | Figures |",
              "|---|---|---|---|---|---|---|---|---|"]
    for rep in parts:
        p = rep.part
        if rep.plan is None:
            lines.append(f"| {p.name} | {p.figure} | models/{p.model} | not run | — | — | — | — | "
                         f"{_md_cell(rep.skipped_reason)} |")
            continue
        c = rep.plan.counts()
        o = rep.outcome
        sets = " ".join(f"`--set {k}={','.join(v)}`" for k, v in rep.plan.grid.items())
        lines.append("| " + " | ".join(_md_cell(x) for x in (
            p.name, p.figure, f"models/{p.model}", sizes[p.name] + (f" {sets}" if sets else ""), len(rep.plan.seeds),
            f"{c['finished']} / {c['failed']}" + (f" of {len(rep.plan.tasks)}" if c['finished'] + c['failed'] <
                                                   len(rep.plan.tasks) else ""), _duration(o.elapsed_s if o else None),
            _duration(o.task_seconds if o else None), _duration(rep.plot_s))) + " |")
    for rep in parts:
        if rep.plan is None:
            continue
        lines += ["", f"### {rep.plan.title or rep.part.figure}", ""]
        if rep.part.about:
            lines += [rep.part.about, ""]
        if rep.part.protocol and sizes[rep.part.name] == "full":
            lines += [f"**Protocol.** {rep.part.protocol}", ""]
        failed = [t for t in rep.plan.tasks if t.status == "failed"]
        for t in failed:
            lines.append(f"- task `{t.id}` failed: {_md_cell(t.error)}")
        if failed:
            lines.append("")
        if rep.outcome:
            # paths inside the report's folder shown relative to it, so the report can move
            table = summary_table(rep.plan, summarize(rep.plan), relative_to=os.path.dirname(rep.plan.out_dir))
            lines += ["```", table, "```", ""]
        for fig in rep.figures:
            lines.append(f"![{os.path.basename(fig)}]({fig})")
        if rep.figures:
            lines.append("")
        if rep.figures_note:
            lines += [f"Figures drawn {rep.figures_note}." if rep.figures_note.startswith("from")
                      else rep.figures_note[:1].upper() + rep.figures_note[1:] + ".", ""]
        if sizes[rep.part.name] == "full":
            lines += appendix_lines(rep.part, rep.plan.out_dir, appendix_dirs)
        lines += [f"Runs, index and summary: `{os.path.relpath(rep.plan.out_dir, os.path.dirname(rep.plan.out_dir))}/` "
                  f"(`sweep.json`, `summary.txt`, `runs/*.h5`: the finished run files, compacted; a "
                  f"rerun into this folder skips them).", ""]
    m = machine_info()
    lines += ["## Machine", "",
              f"- CPU: {m['cpu']}, {m['cores']} cores", f"- memory: {m['memory'] or 'unknown'}",
              f"- OS: {m['os']}, Python {m['python']}", "", "## Versions", ""]
    lines += [f"- {k} {v}" for k, v in versions().items()]
    lines += ["", "## How each claim is read from the run files", ""]
    for r in results:
        lines.append(f"- {r.claim.figure}, {r.claim.text}: {r.claim.ours.describe()}")
    lines.append("")
    return "\n".join(lines)
