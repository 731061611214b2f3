"""The loops that drive a backend: training in blocks of whole images, and testing's votes.

Both run the backend in blocks of steps sized to about ``BLOCK_SECONDS`` (at most
``BLOCK_STEPS``), check for NaN/inf after each block and call the caller's callback there (an
image boundary: the place to stop and checkpoint). Training also cuts blocks at the next step an
observer asks for (``SpikingNetwork`` docstring).
"""

from __future__ import annotations

import time

import numpy as np

from .codes import PURPOSE_TEST, PURPOSE_TRAIN, READOUT_CODES
from .state import F32, new_streams

BLOCK_STEPS = 2000          # steps between NaN checks (and progress callbacks), at most
# ... at most: blocks are cut to about this many seconds, so callbacks (progress, and the stop
# check of spikefa.stop) come often enough that a stop request is honoured within a second
BLOCK_SECONDS = 0.3


class BlockSizer:
    """Slots per block, grown from one while blocks are quick, halved when they run long."""

    def __init__(self, max_slots: int):
        self.max_slots = max(1, max_slots)
        self.slots = 1
        self._t = None

    def start(self):
        self._t = time.perf_counter()

    def done(self):
        took = time.perf_counter() - self._t
        if took < BLOCK_SECONDS / 2:
            self.slots = min(self.max_slots, self.slots * 2)
        elif took > BLOCK_SECONDS and self.slots > 1:
            self.slots = max(1, self.slots // 2)


def reads_weights(observer) -> bool:
    """Whether an observer may read the weights in on_step: unless it says ``reads_weights = False``
    (recorders of state variables do), a training block settles every change before calling it."""
    return bool(getattr(observer, "reads_weights", True))


def sampler(net):
    """The observer whose samples compiled blocks take (record/compiled.py), or None: the first that
    can, where the backend takes samples for the network's streams."""
    if not net.observers or not net.backend.takes_samples(net.params.streams):
        return None
    for obs in net.observers:
        inside = getattr(obs, "samples_inside", None)
        if callable(inside) and inside():
            return obs
    return None


def train_slots(net, live, images, order, slot_labels, counts, callback=None) -> int:
    """Run the training slots of ``order`` (slots x streams) on ``live``; returns the images misclassified.

    Steps advance ``net.step`` and ``net.images_seen``; observers are called at the steps they ask
    for, except one whose samples the compiled blocks take (``sampler``)."""
    S, N = net.params.streams, net.params.steps_per_image
    n_slots = order.shape[0]
    errors = 0
    sizer = BlockSizer(BLOCK_STEPS // N)
    inside = sampler(net)
    first = 0
    while first < n_slots:
        last = min(first + sizer.slots, n_slots)
        sizer.start()
        seen = net.images_seen
        q, end = first * N, last * N
        try:
            while q < end:
                k, who = net._next_observation(skip=inside) if net.observers else (None, ())
                n = end - q if k is None else min(end - q, k - net.step)
                plan = None
                if inside is not None and inside.samples_inside():
                    seq = np.arange(q, q + n)
                    steps = net.step + 1 + (seq - q)                    # net.step as observers see it
                    image_counts = (seen + (seq // N - first) * S) // S   # images before the current one
                    plan = inside.sample_plan(steps, image_counts)
                    n = plan.n
                # a change held over to the next call's forward pass reads each weight row once for
                # both (cpu.py): kept when only observers that read no weights run in between
                settle = q + n >= end or any(reads_weights(obs) for obs in who)
                net.backend.run(live, images, order, slot_labels, counts, q, n, N, net.step, True, PURPOSE_TRAIN,
                                settle=settle, samples=None if plan is None else plan.samples)
                if plan is not None:
                    slots = seq[:n] // N
                    inside.samples_taken(plan, steps[:n], image_counts[:n], order[slots], slot_labels[slots])
                net.step += n
                q += n
                if net.step == k:
                    i = (q - 1) // N
                    net.image_indices[:] = order[i]
                    net.labels[:] = slot_labels[i]
                    net.image_index, net.label = int(order[i, 0]), int(slot_labels[i, 0])
                    net.images_seen = seen + (i - first) * S
                    for obs in who:
                        obs.on_step(net)
        finally:      # an observer that raised (or Ctrl-C) leaves no change unmade
            net.backend.settle_plasticity(live)
        bad = net.backend.nonfinite(live)
        if bad is not None:
            net._diverged(bad[0], bad[1], net.step)
        net.images_seen = seen + (last - first) * S
        block_errors = int((counts[first:last].argmax(axis=2) != slot_labels[first:last]).sum())
        errors += block_errors
        sizer.done()
        if callback is not None:
            callback((last - first) * S, block_errors)
        first = last
    return errors


def vote(net, images, callback=None, activity=None) -> np.ndarray:
    """Summed votes (images x classes) of testing ``images`` in the network's test state.
    ``activity`` (L + 1,): the spikes of each layer over the test steps of the real images are
    added to it (the steps then run one per backend call)."""
    p = net.params
    T, n = p.test_streams, images.shape[0]
    n_slots = -(-n // T)
    order = np.arange(n_slots * T, dtype=np.int64)
    order[order >= n] = 0                      # padding in the last slot; its votes are dropped
    order = order.reshape(n_slots, T)
    dummy_labels = np.zeros((n_slots, T), dtype=np.int64)
    counts = np.zeros((n_slots, T, p.n_classes), dtype=F32)
    if net._test_state is None:
        net._test_state = new_streams(p.sizes, T)
    net._test_state.reset()
    live = net.backend.to_device(net._test_state)
    M = p.test_steps
    readout, fresh = READOUT_CODES[p.test_readout], not p.test_carry
    sizer = BlockSizer(BLOCK_STEPS // M)
    t = 0
    first = 0
    while first < n_slots:
        last = min(first + sizer.slots, n_slots)
        sizer.start()
        if activity is None:
            net.backend.run(live, images, order, dummy_labels, counts, first * M, (last - first) * M, M, t,
                            False, PURPOSE_TEST, readout, fresh)
            t += (last - first) * M
        else:
            for q in range(first * M, last * M):
                net.backend.run(live, images, order, dummy_labels, counts, q, 1, M, t, False, PURPOSE_TEST, readout,
                                fresh)
                t += 1
                real = min(T, n - (q // M) * T)       # streams showing real images in this slot
                for layer, s in enumerate(live.s):
                    s = s.copy_to_host() if hasattr(s, "copy_to_host") else s    # cuda: device arrays
                    activity[layer] += float(s[:real].sum(dtype=np.float64))
        bad = net.backend.nonfinite(live)
        if bad is not None:
            net._diverged(bad[0], bad[1], f"{t} of testing")
        sizer.done()
        if callback is not None:
            callback()
        first = last
    return counts.reshape(n_slots * T, p.n_classes)[:n]
