"""spikefa bench recording: what recording costs the Figure 4 network on the cpu backend.

Trains the 784-1500-1500-1500-1000 network on MNIST (random images when MNIST is not found) and
times the step in six ways. Every configuration trains from the same saved state on the same
images (same steps, so the same random draws and the same work), in interleaved rounds with the
order rotated, so that a busy machine slows all of them alike:
  bare          no observer (the network runs blocks of steps per compiled call)
  observer      an observer that does nothing (one compiled call per step): the protocol's own cost,
                which third-party observers pay
  50 units      50 random units of every layer, every variable (spikes, V, U, mod, error), every step
  all spikes    every spike of every layer (input included), every step
  fig4 outside  Figure 4's recorders (models/fig4_spiking.toml: three windows of 20 images), on
                images outside their windows: the network runs compiled blocks up to the next
                step a recorder needs (Recording.next_step), so this should cost what bare does
  fig4 windows  the same recorders with their three windows (of images_per_round / 10 images each)
                inside the timed images: 30% of the steps recorded
On the cpu backend's spike-rows kernel the recorders' samples are taken inside the compiled blocks
(record/compiled.py), so every recording makes the bare step's calls; the bench prints them. It
prints each recording's step time over the bare step time (writes of full blocks and the
timed flushes included; the one-off close at the end of a run is shown on its own). The ratio is
taken on the process's CPU time, which other programs on a shared machine do not inflate (the
cpu backend runs one thread for one stream, and recording works in the same thread): in each
round, each configuration's time over the bare step's of the same round, and the median of these
over the rounds (this machine's step time drifts by 20% between seconds, a drift that a ratio of
two best times would count as the recording's cost); the wall-clock ratio is printed beside it.
The compiled calls each configuration made for the round's steps are counted too: recording
outside its windows must run the same calls as the bare step (the same kernel, the same blocks).
Targets: <= 1.10, <= 1.30, and <= 1.05 for fig4 outside.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from ..progress import format_table
from ..record import Recorder, build_recorders

FIG4_SIZES = (784, 1500, 1500, 1500, 1000)
QUICK_SIZES = (784, 200, 200, 100)
TARGETS = {"50 units": 1.10, "all spikes": 1.30, "fig4 outside": 1.05}
# the recorders of models/fig4_spiking.toml (tests/test_record_blocks.py checks they are the same)
FIG4_RECORDERS = [
    Recorder(name="hidden", layers="hidden", units=50, variables=["spikes"], windows=["early", "middle", "late"],
             window_images=20),
    Recorder(name="output", layers="output", units="all", variables=["spikes"],
             windows=["early", "middle", "late"], window_images=20),
    Recorder(name="input", layers=[0], units="all", variables=["spikes"], windows=["early", "middle", "late"],
             window_images=20),
    Recorder(name="traces", layers=[1], units=2, variables=["V", "mod"], windows=["early", "middle", "late"],
             window_images=20),
]
FIG4_FLUSH_S = 5.0              # the model file's record.flush_interval_s


def _data(n: int):
    try:
        from ..data import mnist
        images, labels = mnist.load("train", check=False)
        return mnist.as_float(images[:n]), labels[:n].astype(np.int64), "MNIST"
    except Exception:     # no MNIST here: the cost of recording hardly depends on the pixels
        gen = np.random.default_rng(0)
        images = gen.random((n, 784), dtype=np.float32) * (gen.random((n, 784)) < 0.2)
        return images, np.arange(n) % 10, "random images"


class _Nothing:
    def on_step(self, net):
        pass


def _fig4_in(first: int, n: int) -> list:
    """Figure 4's recorders with their three windows (early, middle, late) in images [first, first + n)."""
    w = max(1, n // 10)
    starts = sorted({first, first + (n - w) // 2, first + n - w})     # fewer than three when n < 5
    windows = [[a, a + w] for a in starts]
    return [Recorder(**{**r.as_table(), "windows": windows}) for r in FIG4_RECORDERS]


def _configs(n_layers: int, seen: int, n: int) -> dict:
    """``seen``: images per stream before the timed ones; ``n``: the timed images."""
    every_var = ["spikes", "V", "U", "mod", "error"]
    return {
        "bare": None,
        "observer": "nothing",
        "50 units": [Recorder(name="units50", layers="all", units=50, seed=0, variables=every_var)],
        "all spikes": [Recorder(name="spikes", layers=list(range(n_layers + 1)), units="all",
                                variables=["spikes"])],
        # a run of 600k images (the model file's): its early window is past, its middle far ahead
        "fig4 outside": (FIG4_RECORDERS, 600_000),
        "fig4 windows": (_fig4_in(seen, n), None),
    }


class _CallCounter:
    """Counts the compiled calls (backend.run) a network makes, set on the network's backend."""

    def __init__(self, backend):
        self.calls, self._run = 0, backend.run
        backend.run = self

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self._run(*args, **kwargs)


def measure(sizes=FIG4_SIZES, images_per_round: int = 16, rounds: int = 11, backend: str = "cpu",
            log=print) -> list[dict]:
    """Seconds per step of each configuration (best round), its ratio to the bare step (the median
    over rounds of the two's ratio in the same round) and its compiled calls per round."""
    from ..spiking.network import SpikingNetwork
    from ..spiking.params import SpikingParams

    units_per_class = sizes[-1] // 10
    net = SpikingNetwork(SpikingParams(sizes=sizes, units_per_class=units_per_class, backend=backend))
    X, y, what = _data(images_per_round * (rounds * 4 + 1))
    log(f"network {'-'.join(map(str, sizes))}, backend {backend}, {what}, {images_per_round} images "
        f"x {net.params.steps_per_image} steps per round, {rounds} rounds")
    # compile and warm up; past image 20, so that the timed images lie after Figure 4's early window
    net.train(X, y, n_images=max(images_per_round, 20))
    net.add_observer(_Nothing())
    net.train(X, y, n_images=1)                      # compile the one-step path too
    net.observers.clear()
    snap = net.state_dict()
    counter = _CallCounter(net.backend)
    configs = _configs(len(sizes) - 1, net.images_seen // net.params.streams, images_per_round)
    names = list(configs)
    times = {name: [] for name in configs}
    cpu_times = {name: [] for name in configs}
    closing = {name: [] for name in configs}
    calls = {name: set() for name in configs}
    steps = images_per_round * net.params.steps_per_image
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                recs = configs[name]
                net.load_state_dict(snap)
                rec = None
                if recs == "nothing":
                    rec = _Nothing()
                    net.add_observer(rec)
                elif isinstance(recs, tuple):      # Figure 4's recorders, as the model file declares them
                    path = os.path.join(tmp, f"{name.replace(' ', '_')}-{r}.h5")
                    rec = build_recorders(recs[0], net, path, total_images=recs[1], flush_interval_s=FIG4_FLUSH_S)
                elif recs is not None:
                    path = os.path.join(tmp, f"{name.replace(' ', '_')}-{r}.h5")
                    rec = build_recorders(recs, net, path)
                counter.calls = 0
                t0, c0 = time.perf_counter(), time.process_time()
                net.train(X, y, n_images=images_per_round)
                elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
                calls[name].add(counter.calls)
                if recs == "nothing":
                    net.remove_observer(rec)
                elif recs is not None:
                    t1 = time.perf_counter()
                    rec.close()            # once per run: the last block, reported on its own
                    closing[name].append(time.perf_counter() - t1)
                times[name].append(elapsed / steps)
                cpu_times[name].append(cpu / steps)
    rows = []
    for name in configs:
        ts, cs = times[name], cpu_times[name]
        row = {"configuration": name, "ms/step": 1e3 * min(ts), "cpu ms/step": 1e3 * min(cs),
               "ratio": float(np.median(np.divide(cs, cpu_times["bare"]))),
               "wall ratio": float(np.median(np.divide(ts, times["bare"]))),
               "calls": "/".join(map(str, sorted(calls[name]))),
               "close ms": 1e3 * min(closing[name]) if closing[name] else ""}
        if name in TARGETS:
            row["target"] = f"<= {TARGETS[name]:.2f}"
            row["met"] = "yes" if row["ratio"] <= TARGETS[name] else "no"
        rows.append(row)
    return rows


def main(args) -> int:
    quick = bool(getattr(args, "quick", False))
    repeat = getattr(args, "repeat", None)
    # many short rounds: the median of paired ratios needs many pairs where the machine drifts
    rows = measure(sizes=QUICK_SIZES if quick else FIG4_SIZES, images_per_round=16,
                   rounds=repeat or (2 if quick else 11))
    if quick:       # a step of 0.05 ms: a block's fixed costs weigh on it as they never do at full size
        rows = [{k: v for k, v in r.items() if k not in ("target", "met")} for r in rows]
    print(format_table(rows, "recording cost: step time over the bare step (ms/step: best round; ratio: process "
                             "CPU time over the bare step's in the same round, the median over rounds, robust "
                             "to other load; wall ratio: the same on elapsed time; calls: compiled calls "
                             "per round)"))
    row = {r["configuration"]: r for r in rows}
    out, every = row["fig4 outside"], row["observer"]
    print(f"Figure 4's recorders outside their windows: {out['ratio']:.3f}x the bare step in CPU time "
          f"({out['wall ratio']:.3f}x wall clock), where an observer called every step costs "
          f"{every['ratio']:.3f}x; compiled calls per round: {out['calls']}, bare {row['bare']['calls']}")
    if quick:
        from .spiking import QUICK_NOTE
        print(QUICK_NOTE)
    return 0
