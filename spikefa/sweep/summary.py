"""The summary across a sweep's tasks: mean, spread and n per setting (``summary.json``, ``summary.txt``)."""

from __future__ import annotations

import json
import math
import os

from ..errors import OutputError
from .index import write_json_atomic
from .plan import SweepPlan

SUMMARY_JSON = "summary.json"
SUMMARY_TEXT = "summary.txt"


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
