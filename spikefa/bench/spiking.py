"""spikefa bench spiking: speed of one time step of the Figure 4 network, per backend, against its floor.

For the 784-1500-1500-1500-1000 network (one stream, learning on, MNIST input when the files are
found, else generated 28x28 digits) it prints per backend: ms per time step, the floor of that
step and the ratio, the first call's time (compilation, or loading Numba's cache), and the
image-steps per second of S parallel streams. Everything is measured in this one run.

The floor is the bytes a step must move over the copy bandwidth measured here with numpy (a
large array copied: bytes read + bytes written, per second). A step must move, in float32:
  forward     the rows of WT of the presynaptic units that spiked (binary spikes)   k_{l-1} n_l
  feedback    every B_l (dense: phi_d(U) is not binary)                               n_l n_{l+1}
  plasticity  the same rows of WT as the forward pass, read and written            2 k_{l-1} n_l
  state       V, P, U, phi_d(U), D, b and spikes of every layer                          ~10 n_l
with k_{l-1} the mean number of presynaptic units that spiked, counted in this run.

With many streams the cpu backend's gemm kernel is bound by arithmetic, not memory; its floor is
the time of its BLAS products alone (forward, feedback and plasticity of every layer, the same
shapes and layouts), timed here, so the ratio shows what the rest of the step costs.

It also prints what each ratio is measured against, the machine (CPU model, cores, load average,
and the CPU time other processes took while it ran: every number here is slower on a busy
machine), image-steps/s for S = 1, 8, 32, 128 streams with each S's speed-up over S = 1 (so a user
can pick S), and each target with its measured value and whether it was met. Targets are for the
full-size network: ``--quick`` prints the ratios but no verdicts.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np

from ..errors import DataError
from ..progress import format_table

FIG4 = (784, 1500, 1500, 1500, 1000)
QUICK = (784, 200, 200, 100)
STREAMS = (1, 8, 32, 128)          # the S a user picks from; gemm from 8 on (cpu_kernel = "auto")
TARGET_STREAMS = 32                # the S of the speed-up target

# (name, what is compared, "<=" or ">=", target value): each printed with its measured value
TARGETS = (
    ("cpu_floor", "cpu, one stream: ms/step over its memory floor", "<=", 1.5),
    ("cpu_numpy", "cpu speed-up over the numpy reference", ">=", 5.0),
    ("cpu_streams", f"cpu image-steps/s, S={TARGET_STREAMS} over S=1", ">=", 10.0),
)
QUICK_NOTE = "targets are for the full-size network; run without --quick"


def copy_bandwidth(megabytes: int = 256, repeat: int = 3) -> float:
    """Bytes per second of numpy copying an array far larger than the caches (read + write)."""
    src = np.ones(megabytes * (1 << 20) // 4, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best


def images_for_bench(n: int):
    from ..data import mnist, synthetic

    try:
        X, y = mnist.load("train", check=False)
        return mnist.as_float(X[:n]), y[:n].astype(np.int64), "MNIST"
    except DataError:
        X, y = synthetic.load("train", n, size=28)
        return X, y, "generated 28x28 digits"


class SpikeCounter:
    """Observer: mean number of units that spiked per layer per step (stream 0)."""

    def __init__(self, layers: int):
        self.totals = np.zeros(layers + 1)
        self.steps = 0

    def on_step(self, net):
        for layer in range(len(self.totals)):
            self.totals[layer] += float(np.count_nonzero(net.layer_state("spikes", layer)))
        self.steps += 1

    @property
    def mean(self) -> np.ndarray:
        return self.totals / max(1, self.steps)


def step_floor_bytes(sizes, active, feedback: str = "fa") -> float:
    """Bytes one learning step of one stream must move (see the module docstring)."""
    L = len(sizes) - 1
    total = 0.0
    for h in range(L):
        rows = active[h] * sizes[h + 1] * 4
        total += rows + 2 * rows                     # forward read, plasticity read + write
        total += 10 * sizes[h + 1] * 4               # state vectors
    for h in range(L - 1):                           # feedback matrices, dense
        n_src = sizes[h + 2] if feedback in ("fa", "bp") else sizes[L]
        total += sizes[h + 1] * n_src * 4
    return total


def gemm_floor_seconds(sizes, streams: int, repeat: int = 5) -> float:
    """Seconds of the BLAS products of one learning step of the gemm kernel (feedback fa), alone."""
    from ..spiking.gemm import _forward_product, _gemm, _plasticity_product

    rng = np.random.default_rng(0)
    L = len(sizes) - 1
    WT = [np.asfortranarray(rng.uniform(-0.05, 0.05, (sizes[h], sizes[h + 1])).astype(np.float32))
          for h in range(L)]
    B = [rng.uniform(-0.1, 0.1, (sizes[h + 1], sizes[h + 2])).astype(np.float32) for h in range(L - 1)]
    s = [(rng.random((streams, n)) < 0.5).astype(np.float32) for n in sizes]
    sT = [np.ascontiguousarray(a.T) for a in s]
    out = [np.zeros((n, streams), dtype=np.float32) for n in sizes[1:]]
    D = [np.zeros((streams, n), dtype=np.float32) for n in sizes[1:]]

    def products():
        for h in range(L):
            _forward_product(WT[h], sT[h], out[h])
        for h in range(L - 2, -1, -1):
            _gemm(1.0, sT[h + 2].T, B[h].T, out[h].T)
        for h in range(L):
            _plasticity_product(1e-3, D[h], s[h], sT[h], WT[h])

    products()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        products()
        best = min(best, time.perf_counter() - t0)
    return best


def _first_call_kind(backend_name: str, streams: int, net) -> str:
    if backend_name != "cpu":
        return "jit" if backend_name == "cuda" else "-"
    if net.backend.kernel_for(streams) == "gemm":
        from ..spiking import gemm

        kernel = gemm._sample
    else:
        kernels = net.backend.kernels
        kernel = kernels.run_steps_serial if net.backend.threads_for(streams) == 1 else kernels.run_steps_parallel
    return "cache" if sum(kernel.stats.cache_hits.values()) else "compiled"


def _threads(backend: str, streams: int, net) -> str | int | None:
    """Threads of the cpu backend: Numba's for spike-rows, OpenBLAS's (all cores unless
    OPENBLAS_NUM_THREADS says otherwise) for gemm."""
    if backend != "cpu":
        return None
    if net.backend.kernel_for(streams) == "gemm":
        return f"gemm/{os.environ.get('OPENBLAS_NUM_THREADS', 'blas')}"
    return f"rows/{net.backend.threads_for(streams)}"


def measure(backend: str, sizes, X, y, *, streams: int = 1, images: int, units_per_class: int) -> dict:
    """ms per step and first-call time of one backend on ``streams`` streams."""
    from ..spiking import SpikingNetwork, SpikingParams

    net = SpikingNetwork(SpikingParams(sizes=sizes, units_per_class=units_per_class, backend=backend,
                                       streams=streams))
    N = net.params.steps_per_image
    t0 = time.perf_counter()
    net.train(X, y, streams)                          # first call: one slot of N steps
    first = time.perf_counter() - t0
    kind = _first_call_kind(backend, streams, net)
    t0 = time.perf_counter()
    net.train(X, y, images)
    elapsed = time.perf_counter() - t0
    steps = -(-images // streams) * N
    ms = 1e3 * elapsed / steps
    return {"net": net, "ms_per_step": ms, "first_call_s": first, "compile_s": max(0.0, first - N * ms / 1e3),
            "first_kind": kind, "image_steps_per_s": streams * steps / elapsed,
            "threads": _threads(backend, streams, net)}


def available_backends() -> list[str]:
    names = ["numpy", "cpu"]
    try:
        from numba import cuda

        if cuda.is_available():
            names.append("cuda")
    except Exception:  # no CUDA support at all in this numba
        pass
    return names


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


def reference_lines(backends, bandwidth: float, streams) -> list[str]:
    """What each ratio is measured against (all measured in this run)."""
    lines = ["measured against (all in this run, on this machine):"]
    if "numpy" in backends:
        lines.append("  numpy     the numpy reference backend (the specification), same network, images and seed")
    lines.append(f"  floor     bytes one stream's step must move / copy bandwidth {bandwidth / 1e9:.2f} GB/s "
                 "(numpy copying a large array, read + write)")
    if any(s > 1 for s in streams):
        lines.append("  BLAS      the gemm kernel's three BLAS products per layer timed alone (same shapes and "
                     "layouts), the floor of a step of many streams")
    lines.append("  S = 1     each S's image-steps/s over the same backend's with one stream")
    return lines


def target_lines(measured: dict, quick: bool, loaded: bool = False) -> list[str]:
    """One line per target: target value, measured value, met / not met. ``measured`` maps TARGETS'
    names to values (a name missing: not measured in this run). --quick: no verdicts, a note."""
    if quick:
        return [QUICK_NOTE]
    lines = ["targets (full-size network):"]
    for name, what, op, value in TARGETS:
        got = measured.get(name)
        if got is None:
            lines.append(f"  {what}: target {op} {value:g}, not measured in this run")
            continue
        met = got <= value if op == "<=" else got >= value
        verdict = "met" if met else "not met"
        if loaded:
            verdict += " (under load: not conclusive)"
        lines.append(f"  {what}: target {op} {value:g}, measured {got:.2f}: {verdict}")
    return lines


def parse_streams(value) -> tuple[int, ...]:
    """--streams: one S or a comma-separated list; 1 is always measured (the speed-ups' baseline)."""
    from ..errors import ConfigError

    if value in (None, ""):
        return STREAMS
    try:
        values = sorted({1, *(int(v) for v in str(value).split(","))})
    except ValueError:
        raise ConfigError(f"--streams {value!r}: give a number of streams or a comma-separated list, e.g. 1,8,32")
    if values[0] < 1:
        raise ConfigError(f"--streams {value!r}: streams must be at least 1")
    return tuple(values)


def _stream_images(S: int, quick: bool) -> int:
    """Images timed for S streams: whole slots, 40 (full) or 10 (quick) at S = 1, at least two."""
    slots = max(2, (10 if quick else 40) // S)
    return S * slots


def main(args) -> int:
    quick = bool(getattr(args, "quick", False))
    sizes = QUICK if quick else FIG4
    upc = 10 if quick else 100
    backends = args.backends.split(",") if getattr(args, "backends", None) else available_backends()
    streams = parse_streams(getattr(args, "streams", None))
    repeat = getattr(args, "repeat", None)
    cores = usable_cores()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    use = CpuUse().start()
    X, y, source = images_for_bench(max(512, 2 * max(streams)))
    print(f"spiking step benchmark: {'-'.join(map(str, sizes))}, input {source}, learning on"
          + (" (--quick: small network)" if quick else ""))
    for line in machine_lines(load, cores):   # other work on the machine changes every number below
        print(line)
    bandwidth = copy_bandwidth(64 if quick else 256)
    print(f"copy bandwidth (numpy, read + write): {bandwidth / 1e9:.2f} GB/s")
    for line in reference_lines(backends, bandwidth, streams):
        print(line)

    rows, results, stream_rows = [], {}, []
    for backend in backends:
        images = repeat or {"numpy": 2 if quick else 4, "cpu": 10 if quick else 40, "cuda": 200}.get(backend, 10)
        r = measure(backend, sizes, X, y, images=images, units_per_class=upc)
        counter = SpikeCounter(len(sizes) - 1)
        r["net"].add_observer(counter)
        r["net"].train(X, y, 4)
        floor_ms = 1e3 * step_floor_bytes(sizes, counter.mean) / bandwidth
        r["floor_ms"] = floor_ms
        results[backend] = r
        rows.append({"backend": backend, "streams": 1, "kernel/threads": r["threads"] or "-",
                     "ms/step": r["ms_per_step"], "floor ms": floor_ms, "ratio": r["ms_per_step"] / floor_ms,
                     "first call s": r["first_call_s"], "compile s": r["compile_s"], "first call": r["first_kind"],
                     "image-steps/s": round(r["image_steps_per_s"])})
        r["net"] = None                               # free the network before the next one
        if backend not in ("cpu", "cuda"):
            continue
        for S in streams:
            m = r if S == 1 else measure(backend, sizes, X, y, streams=S, images=_stream_images(S, quick),
                                         units_per_class=upc)
            results[f"{backend}_S{S}"] = m
            blas_ms, blas_ratio = "", ""
            if S > 1 and backend == "cpu" and m["net"].backend.kernel_for(S) == "gemm":
                blas_ms = 1e3 * gemm_floor_seconds(sizes, S)
                blas_ratio = m["ms_per_step"] / blas_ms
            stream_rows.append({"backend": backend, "S": S, "kernel/threads": m["threads"] or "-",
                                "ms/step": m["ms_per_step"], "image-steps/s": round(m["image_steps_per_s"]),
                                "over S=1": m["image_steps_per_s"] / r["image_steps_per_s"],
                                "BLAS ms": blas_ms, "over BLAS": blas_ratio,
                                "first call s": m["first_call_s"]})
            m["net"] = None
    print(format_table(rows, "one stream, per time step; floor = bytes the step must move / copy bandwidth"))
    if stream_rows:
        print(format_table(stream_rows, "S streams side by side (pick S by image-steps/s; over S=1 = the speed-up "
                                        "over one stream; BLAS = the gemm kernel's products alone)"))

    measured = {}
    if "cpu" in results:
        measured["cpu_floor"] = results["cpu"]["ms_per_step"] / results["cpu"]["floor_ms"]
        if "numpy" in results:
            measured["cpu_numpy"] = results["numpy"]["ms_per_step"] / results["cpu"]["ms_per_step"]
        if f"cpu_S{TARGET_STREAMS}" in results:
            measured["cpu_streams"] = (results[f"cpu_S{TARGET_STREAMS}"]["image_steps_per_s"]
                                       / results["cpu"]["image_steps_per_s"])
    if "cpu" in results:
        print(f"cpu / floor = {measured['cpu_floor']:.2f}")
    if "cpu_numpy" in measured:
        print(f"cpu speed-up over numpy = {measured['cpu_numpy']:.1f}x")
    for backend in ("cpu", "cuda"):
        for S in streams:
            if S > 1 and f"{backend}_S{S}" in results:
                gain = results[f"{backend}_S{S}"]["image_steps_per_s"] / results[backend]["image_steps_per_s"]
                print(f"{backend} image-steps/s, S={S} over S=1 = {gain:.1f}x")
    use_now = use.stop()
    for line in cpu_use_lines(use_now, cores):
        print(line)
    for line in target_lines(measured, quick, loaded=under_load(load, use_now, cores)):
        print(line)
    return 0
