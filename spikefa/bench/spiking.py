"""spikefa bench spiking: speed of one time step of the Figure 4 network, per backend, against its floor.

For the 784-1500-1500-1500-1000 network (one stream, learning on, MNIST input when the files are
found, else generated 28x28 digits) it prints per backend: ms per time step (the best of three
timed calls, as each floor and the PyTorch step are the best of theirs), the floor of that
step and the ratio, the first call's time (compilation, or loading Numba's cache), and the
image-steps per second of S parallel streams. Everything is measured in this one run.

The floor of one stream's step is the bytes it must move over the copy bandwidth measured here
(with numpy, and on as many threads as the cpu kernel runs); with many streams the cpu backend's
gemm kernel is bound by arithmetic, and its floor is the time of its BLAS products alone (the ones its backend's ``describe`` lists), so the ratio
shows what the rest of the step costs (_floor.py says how each is counted).

It also prints what each ratio is measured against, the machine (CPU model, cores, load average,
and the CPU time other processes took while it ran: every number here is slower on a busy
machine), image-steps/s for S = 1, 8, 32, 128 streams with each S's speed-up over S = 1 (so a user
can pick S), and each target with its measured value and whether it was met. Targets are for the
full-size network: ``--quick`` prints the ratios but no verdicts.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..errors import DataError
from ..progress import format_table
from . import _torch
from ._floor import (GemmProducts, SpikeCounter, copy_bandwidth, gemm_floor_seconds,  # noqa: F401
                     product_flops, sgemm_peak_flops, step_floor_bytes, streams_ceiling)
from ._machine import CpuUse, cpu_model, cpu_use_lines, machine_lines, under_load, usable_cores  # noqa: F401

FIG4 = (784, 1500, 1500, 1500, 1000)
QUICK = (784, 200, 200, 100)
STREAMS = (1, 8, 32, 128)          # the S a user picks from; gemm from 8 on (cpu_kernel = "auto")
TARGET_STREAMS = 32                # the S of the speed-up target

# (name, what is compared, "<=" or ">=", target value): each printed with its measured value
TARGETS = (
    ("cpu_floor", "cpu, one stream: ms/step over its memory floor", "<=", 1.3),
    ("cpu_numpy", "cpu speed-up over the numpy reference", ">=", 5.0),
    ("cpu_streams", f"cpu image-steps/s, S={TARGET_STREAMS} over S=1", ">=", 10.0),
    ("cpu_blas", f"cpu, S={TARGET_STREAMS} streams: ms/step over its BLAS products alone", "<=", 1.1),
    ("cpu_torch", "cpu, one stream: speed-up over the same step in PyTorch", ">=", 2.0),
)
QUICK_NOTE = "targets are for the full-size network; run without --quick"


def images_for_bench(n: int):
    from ..data import mnist, synthetic

    try:
        X, y = mnist.load("train", check=False)
        return mnist.as_float(X[:n]), y[:n].astype(np.int64), "MNIST"
    except DataError:
        X, y = synthetic.load("train", n, size=28)
        return X, y, "generated 28x28 digits"


REPEATS = 3                        # each step time is the best of this many timed calls, as the floors are
# ... and of this many with S > 1, each alternating with its BLAS products: a ratio of two bests whose
# quotient is a target near 1 wants more samples on a machine whose speed drifts
STREAM_REPEATS = 5


def measure(backend: str, sizes, X, y, *, streams: int = 1, images: int, units_per_class: int,
            feedback_dtype: str = "float32", threads: int = 0, repeats: int = REPEATS, between=None) -> dict:
    """ms per step (the best of ``repeats`` calls of ``images`` images each, like the floors it is
    compared with: the least disturbed by other work) and first-call time of one backend on
    ``streams`` streams. ``between(info, steps)``, when given, runs after each timed call (untimed):
    what the step is compared with, timed alternately with it (the gemm kernel's products)."""
    from ..spiking import SpikingNetwork, SpikingParams

    net = SpikingNetwork(SpikingParams(sizes=sizes, units_per_class=units_per_class, backend=backend,
                                       streams=streams, feedback_dtype=feedback_dtype, threads=threads))
    N = net.params.steps_per_image
    t0 = time.perf_counter()
    net.train(X, y, streams)                          # first call: one slot of N steps
    first = time.perf_counter() - t0
    info = net.backend.describe(streams)
    elapsed = float("inf")
    steps = -(-images // streams) * N
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        net.train(X, y, images)
        elapsed = min(elapsed, time.perf_counter() - t0)
        if between is not None:
            between(info, steps)
    ms = 1e3 * elapsed / steps
    return {"net": net, "ms_per_step": ms, "first_call_s": first, "compile_s": max(0.0, first - N * ms / 1e3),
            "first_kind": info.first_call, "image_steps_per_s": streams * steps / elapsed,
            "threads": info.threads, "products": info.products}


def available_backends() -> list[str]:
    names = ["numpy", "cpu"]
    try:
        from numba import cuda

        if cuda.is_available():
            names.append("cuda")
    except Exception:  # no CUDA support at all in this numba
        pass
    return names


def reference_lines(backends, bandwidth: float, streams) -> list[str]:
    """What each ratio is measured against (all measured in this run)."""
    lines = ["measured against (all in this run, on this machine):"]
    if "numpy" in backends:
        lines.append("  numpy     the numpy reference backend (the specification), same network, images and seed")
    lines.append(f"  floor     bytes one stream's step must move / copy bandwidth {bandwidth / 1e9:.2f} GB/s "
                 "(numpy copying a large array, read + write; a step on several threads: the bandwidth "
                 "measured on as many; a ratio below 1: part of what a step moves was still in cache "
                 "from the step before)")
    if any(s > 1 for s in streams):
        lines.append("  BLAS      the gemm kernel's three BLAS products per layer timed alone (same shapes and "
                     "layouts), the floor of a step of many streams; timed between the step's timed calls, "
                     "for as many steps as one call runs, so that both see the machine at the same speed")
    lines.append("  S = 1     each S's image-steps/s over the same backend's with one stream")
    if _torch.available():
        lines.append(f"  PyTorch   the same learning step in plain PyTorch {_torch.version()} on the CPU "
                     "(spikefa/bench/_torch.py: float32, in place, no autograd), same threads, S = 1 and "
                     f"{TARGET_STREAMS}")
    else:
        lines.append("  PyTorch   not installed: not compared (pip install torch to compare)")
    return lines


def target_lines(measured: dict, quick: bool, loaded: bool = False, notes: dict | None = None) -> list[str]:
    """One line per target: target value, measured value, met / not met. ``measured`` maps TARGETS'
    names to values (a name missing: not measured in this run); ``notes``, to what a verdict should
    be read with. --quick: no verdicts, a note."""
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
        if notes and name in notes:
            verdict += f" ({notes[name]})"
        lines.append(f"  {what}: target {op} {value:g}, measured {got:.2f}: {verdict}")
    return lines


def torch_comparison(results: dict, sizes, quick: bool, cores: int) -> list[dict]:
    """Time the PyTorch step at S = 1 and TARGET_STREAMS on as many threads as the cpu backend
    used; adds ``torch_S<S>`` to ``results`` and returns the table's rows."""
    rows = []
    for S in (1, TARGET_STREAMS):
        ours = results.get("cpu" if S == 1 else f"cpu_S{S}")
        if ours is None:
            continue
        steps = (20 if quick else 60) if S == 1 else (4 if quick else 10)
        ms = 1e3 * _torch.seconds_per_step(sizes, S, steps, threads=_threads_of(ours, cores),
                                           units_per_class=10 if quick else 100)
        results[f"torch_S{S}"] = {"ms_per_step": ms}
        rows.append({"S": S, "torch threads": _threads_of(ours, cores), "PyTorch ms/step": ms,
                     "spikefa cpu ms/step": ours["ms_per_step"], "PyTorch / spikefa": ms / ours["ms_per_step"]})
    return rows


def _threads_of(result: dict, cores: int) -> int:
    """The thread count in the cpu backend's "kernel/threads" description ("rows/2" -> 2)."""
    text = str(result.get("threads") or "")
    tail = text.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else cores


def ceiling_lines(wide: dict, one_stream_ms: float) -> list[str]:
    """What bounds the S-stream speed-up here: the products' arithmetic rate against this machine's
    sgemm peak, and the speed-up a step that cost nothing beyond its products would reach."""
    flops = product_flops(wide["products"])
    rate = flops / (wide["blas_ms"] / 1e3)
    peak = sgemm_peak_flops()
    ceiling = streams_ceiling(TARGET_STREAMS, one_stream_ms, wide["blas_ms"])
    return [f"S={TARGET_STREAMS} BLAS products: {flops / 1e9:.2f} GFLOP per step at {rate / 1e9:.0f} GFLOP/s, "
            f"{100 * rate / peak:.0f}% of this machine's sgemm peak ({peak / 1e9:.0f} GFLOP/s, 2048^3)",
            f"ceiling of S={TARGET_STREAMS} over S=1 here: {ceiling:.1f}x (S x one stream's ms / the products' ms: "
            f"a step of {TARGET_STREAMS} streams that cost nothing beyond its BLAS products)"]


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
    """Images timed for S streams: whole slots, 40 (full) or 10 (quick) at S = 1, and at least 8
    slots (2 quick): 40 steps, enough that the call's fixed costs (the streams-last copy of the
    state, the first blocks' NaN scans) do not weigh on ms/step."""
    slots = max(2 if quick else 8, (10 if quick else 40) // S)
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
    bandwidths = {1: bandwidth}
    for line in reference_lines(backends, bandwidth, streams):
        print(line)

    rows, results, stream_rows = [], {}, []
    for backend in backends:
        images = repeat or {"numpy": 2 if quick else 4, "cpu": 10 if quick else 40, "cuda": 200}.get(backend, 10)
        variants = [("float32", 0)]
        if backend == "cpu":     # B at 16 bits; one stream on every core (network.threads), which auto does not pick
            variants += [("bfloat16", 0)] + ([("float32", cores)] if cores > 1 else [])
        for dtype, threads in variants:
            r = measure(backend, sizes, X, y, images=images, units_per_class=upc, feedback_dtype=dtype,
                        threads=threads)
            counter = SpikeCounter(len(sizes) - 1)
            r["net"].add_observer(counter)
            r["net"].train(X, y, 4)
            ran_on = _threads_of(r, cores) if backend == "cpu" else 1
            if ran_on not in bandwidths:      # a step on several cores draws on their bandwidth
                bandwidths[ran_on] = copy_bandwidth(64 if quick else 256, threads=ran_on)
                print(f"copy bandwidth on {ran_on} threads (read + write): {bandwidths[ran_on] / 1e9:.2f} GB/s")
            floor_ms = 1e3 * step_floor_bytes(sizes, counter.mean, feedback_bytes=2 if dtype == "bfloat16" else 4,
                                              shared=counter.shared if backend == "cpu" else None) / bandwidths[ran_on]
            r["floor_ms"] = floor_ms
            results[f"{backend}_all_cores" if threads else backend if dtype == "float32" else f"{backend}_bf16"] = r
            rows.append({"backend": backend, "B": dtype, "streams": 1, "kernel/threads": r["threads"] or "-",
                         "ms/step": r["ms_per_step"], "floor ms": floor_ms, "ratio": r["ms_per_step"] / floor_ms,
                         "first call s": r["first_call_s"], "compile s": r["compile_s"], "first call": r["first_kind"],
                         "image-steps/s": round(r["image_steps_per_s"])})
            r["net"] = None                               # free the network before the next one
        r = results[backend]
        if backend not in ("cpu", "cuda"):
            continue
        for S in streams:
            products = {}

            def time_products(info, steps, S=S, products=products):
                if info.products:           # the BLAS products of the kernel S streams runs (gemm)
                    products.setdefault("timer", GemmProducts(sizes, S, info.products)).time(steps)

            m = r if S == 1 else measure(backend, sizes, X, y, streams=S, images=_stream_images(S, quick),
                                         units_per_class=upc, between=time_products, repeats=STREAM_REPEATS)
            results[f"{backend}_S{S}"] = m
            blas_ms, blas_ratio = "", ""
            if "timer" in products:
                blas_ms = 1e3 * products["timer"].best
                blas_ratio = m["ms_per_step"] / blas_ms
                m["blas_ms"] = blas_ms
            stream_rows.append({"backend": backend, "S": S, "kernel/threads": m["threads"] or "-",
                                "ms/step": m["ms_per_step"], "image-steps/s": round(m["image_steps_per_s"]),
                                "over S=1": m["image_steps_per_s"] / r["image_steps_per_s"],
                                "BLAS ms": blas_ms, "over BLAS": blas_ratio,
                                "first call s": m["first_call_s"]})
            m["net"] = None
    print(format_table(rows, "one stream, per time step; floor = bytes the step must move / copy bandwidth"))
    if stream_rows:
        print(format_table(stream_rows, "S streams side by side (speed only: a step sums S images' plasticity, "
                                        "so learning per image matches S=1 only while eta x S stays small, see "
                                        "README's Streams; over S=1 = the speed-up over one stream; BLAS = the "
                                        "gemm kernel's products alone)"))

    torch_rows = torch_comparison(results, sizes, quick, cores) if "cpu" in results and _torch.available() else []
    if torch_rows:
        print(format_table(torch_rows, "the same step in PyTorch (its own random numbers; timed only)"))

    measured = {}
    if "cpu" in results:
        measured["cpu_floor"] = results["cpu"]["ms_per_step"] / results["cpu"]["floor_ms"]
        if "numpy" in results:
            measured["cpu_numpy"] = results["numpy"]["ms_per_step"] / results["cpu"]["ms_per_step"]
        wide = results.get(f"cpu_S{TARGET_STREAMS}")
        if wide is not None:
            measured["cpu_streams"] = wide["image_steps_per_s"] / results["cpu"]["image_steps_per_s"]
            if wide.get("blas_ms"):
                measured["cpu_blas"] = wide["ms_per_step"] / wide["blas_ms"]
        if "torch_S1" in results:
            measured["cpu_torch"] = results["torch_S1"]["ms_per_step"] / results["cpu"]["ms_per_step"]
    if "cpu" in results:
        print(f"cpu / floor = {measured['cpu_floor']:.2f}")
    if "cpu_bf16" in results:
        bf16 = results["cpu_bf16"]
        print(f"cpu with B stored as bfloat16 (network.feedback_dtype): {bf16['ms_per_step'] / bf16['floor_ms']:.2f}x "
              f"its floor, {results['cpu']['ms_per_step'] / bf16['ms_per_step']:.2f}x the speed of float32 B")
    if "cpu_all_cores" in results:
        wide_one = results["cpu_all_cores"]
        print(f"cpu, one stream on every core (network.threads = {cores}): {wide_one['ms_per_step'] / wide_one['floor_ms']:.2f}x "
              f"its floor, {results['cpu']['ms_per_step'] / wide_one['ms_per_step']:.2f}x the speed of one core "
              "(automatic threads keep one stream on one core: on cores other work keeps busy, every core is far slower)")
    if "cpu_numpy" in measured:
        print(f"cpu speed-up over numpy = {measured['cpu_numpy']:.1f}x")
    for backend in ("cpu", "cuda"):
        for S in streams:
            if S > 1 and f"{backend}_S{S}" in results:
                gain = results[f"{backend}_S{S}"]["image_steps_per_s"] / results[backend]["image_steps_per_s"]
                print(f"{backend} image-steps/s, S={S} over S=1 = {gain:.1f}x")
    wide = results.get(f"cpu_S{TARGET_STREAMS}")
    notes = {}
    if wide is not None and wide.get("blas_ms"):
        for line in ceiling_lines(wide, results["cpu"]["ms_per_step"]):
            print(line)
        ceiling = streams_ceiling(TARGET_STREAMS, results["cpu"]["ms_per_step"], wide["blas_ms"])
        notes["cpu_streams"] = f"no step of its products' cost could beat {ceiling:.1f}x on this machine"
    use_now = use.stop()
    for line in cpu_use_lines(use_now, cores):
        print(line)
    for line in target_lines(measured, quick, loaded=under_load(load, use_now, cores), notes=notes):
        print(line)
    return 0
