"""The machine a benchmark runs on: CPU model, usable cores, load, and the CPU time others took.

Every number a benchmark prints is slower on a busy machine; these lines say how busy it was.
"""

from __future__ import annotations

import os
import platform
import time


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _proc_stat():
    """(busy, steal) seconds of all CPUs since boot, from /proc/stat; None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / hz, steal / hz


class CpuUse:
    """CPU time this process and all other processes took between start() and stop()."""

    def start(self):
        self._wall, self._own, self._stat = time.perf_counter(), _own_cpu_seconds(), _proc_stat()
        return self

    def stop(self) -> dict | None:
        """{wall_s, own_s, others_s, steal_s}, or None where the system's CPU time is unknown."""
        stat = _proc_stat()
        if stat is None or self._stat is None:
            return None
        wall = time.perf_counter() - self._wall
        own = _own_cpu_seconds() - self._own
        busy, steal = stat[0] - self._stat[0], stat[1] - self._stat[1]
        return {"wall_s": wall, "own_s": own, "others_s": max(0.0, busy - own), "steal_s": steal}


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def machine_lines(load: tuple | None, cores: int) -> list[str]:
    """The machine, and a warning when its load average is above its core count."""
    lines = [f"machine: {cpu_model()}, {cores} cores" + (f" ({os.cpu_count()} in the machine)"
                                                             if os.cpu_count() and os.cpu_count() != cores else "")]
    if load is not None:
        lines.append(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min) on {cores} cores, "
                     "before the bench started")
        if max(load[0], load[1]) > cores:
            lines.append(f"WARNING: load average {max(load[0], load[1]):.1f} is above the {cores} cores: other work "
                         "is running and slows every number below; measure again on a quiet machine")
    return lines


def cpu_use_lines(use: dict | None, cores: int) -> list[str]:
    """Whether another process used the CPU while the bench ran (and how much the host stole)."""
    if use is None:
        return ["CPU time of other processes: unknown on this system (no /proc/stat)"]
    wall = max(use["wall_s"], 1e-9)
    others, steal = use["others_s"] / wall, use["steal_s"] / wall
    line = (f"during the bench ({use['wall_s']:.0f} s): this process used {use['own_s'] / wall:.2f} cores, "
            f"other processes {others:.2f} of the {cores}")
    if steal >= 0.01:
        line += f", the host stole {steal:.2f} cores"
    lines = [line]
    if others >= 0.25 or steal >= 0.1:
        lines.append("WARNING: other processes were using the CPU during the bench (or the host stole time): "
                     "these numbers are measured under load")
    return lines


def under_load(load: tuple | None, use: dict | None, cores: int) -> bool:
    busy_load = load is not None and max(load[0], load[1]) > cores
    if use is None:
        return busy_load
    wall = max(use["wall_s"], 1e-9)
    return busy_load or use["others_s"] / wall >= 0.25 or use["steal_s"] / wall >= 0.1
