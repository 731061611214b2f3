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
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..errors import DataError
from ..progress import format_table

FIG4 = (784, 1500, 1500, 1500, 1000)
QUICK = (784, 200, 200, 100)


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
    N = net.params.steps_train
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


def main(args) -> int:
    quick = bool(getattr(args, "quick", False))
    sizes = QUICK if quick else FIG4
    upc = 10 if quick else 100
    backends = args.backends.split(",") if getattr(args, "backends", None) else available_backends()
    many = int(args.streams) if getattr(args, "streams", None) else (4 if quick else 32)
    repeat = getattr(args, "repeat", None)
    X, y, source = images_for_bench(max(512, 4 * many))
    print(f"spiking step benchmark: {'-'.join(map(str, sizes))}, input {source}, learning on")
    if hasattr(os, "getloadavg"):  # other work on the machine changes every number below
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    bandwidth = copy_bandwidth(64 if quick else 256)
    print(f"copy bandwidth (numpy, read + write): {bandwidth / 1e9:.2f} GB/s")

    rows, results = [], {}
    for backend in backends:
        images = repeat or {"numpy": 2 if quick else 4, "cpu": 10 if quick else 40, "cuda": 200}.get(backend, 10)
        r = measure(backend, sizes, X, y, images=images, units_per_class=upc)
        counter = SpikeCounter(len(sizes) - 1)
        r["net"].add_observer(counter)
        r["net"].train(X, y, 4)
        floor_ms = 1e3 * step_floor_bytes(sizes, counter.mean) / bandwidth
        results[backend] = r
        rows.append({"backend": backend, "streams": 1, "kernel/threads": r["threads"] or "-",
                     "ms/step": r["ms_per_step"], "floor ms": floor_ms, "ratio": r["ms_per_step"] / floor_ms,
                     "first call s": r["first_call_s"], "compile s": r["compile_s"], "first call": r["first_kind"],
                     "image-steps/s": r["image_steps_per_s"]})
        if backend in ("cpu", "cuda"):
            m = measure(backend, sizes, X, y, streams=many, images=many * (1 if quick else 2), units_per_class=upc)
            results[f"{backend}_S"] = m
            floor_S, ratio_S = "", ""
            if backend == "cpu" and m["net"].backend.kernel_for(many) == "gemm":
                floor_S = 1e3 * gemm_floor_seconds(sizes, many)
                ratio_S = m["ms_per_step"] / floor_S
            rows.append({"backend": backend, "streams": many, "kernel/threads": m["threads"] or "-",
                         "ms/step": m["ms_per_step"], "floor ms": floor_S, "ratio": ratio_S,
                         "first call s": m["first_call_s"], "compile s": m["compile_s"],
                         "first call": m["first_kind"], "image-steps/s": m["image_steps_per_s"]})
    print(format_table(rows, "per time step; floor = bytes the step must move / copy bandwidth (one stream), "
                             "or its BLAS products alone (gemm)"))
    checks = []
    if "cpu" in results:
        cpu_row = next(r for r in rows if r["backend"] == "cpu" and r["streams"] == 1)
        checks.append(f"cpu / floor = {cpu_row['ratio']:.2f} (target <= 1.5)")
        if "numpy" in results:
            speedup = results["numpy"]["ms_per_step"] / results["cpu"]["ms_per_step"]
            checks.append(f"cpu speed-up over numpy = {speedup:.1f}x (target >= 5)")
        gain = results["cpu_S"]["image_steps_per_s"] / results["cpu"]["image_steps_per_s"]
        checks.append(f"cpu image-steps/s, S={many} over S=1 = {gain:.1f}x (target >= 10)")
    if "cuda" in results:
        gain = results["cuda_S"]["image_steps_per_s"] / results["cuda"]["image_steps_per_s"]
        checks.append(f"cuda image-steps/s, S={many} over S=1 = {gain:.1f}x")
    for line in checks:
        print(line)
    return 0
