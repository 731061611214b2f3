"""Samples taken inside compiled blocks: recording that keeps the network in its compiled loop.

A recorder observing the network returns to Python after every step it samples, and on the cpu
backend those returns, not the copying, are what recording costs (a step of 2 ms grows by some
15% when 50 units of every variable are recorded at every step). Where the backend can copy the
samples itself (``Backend.takes_samples``: the cpu backend's spike-rows kernel), training hands
each compiled block a plan instead:

- the channels of every recorder share one staging array (``out``: their buffers side by side,
  each a block of its columns), and ``what`` says where each channel's values live in the
  network's state (``SpikingNetwork.state_location``), which stream and which units;
- ``rows`` says, for each recorder and each step of the block, the row of its buffer that step
  fills (-1: no sample), from the same rules ``RecorderWriter.wants`` applies (``every``, image
  windows); a block ends at the step that fills a buffer, which is then written as before;
- after the block, the step numbers, images, labels and image counts of the sampled steps are
  written into the recorders' index buffers.

The file is the one the observer writes, sample for sample (tests/test_record_compiled.py).
Networks, backends or channels that cannot do this (device arrays, networks without
``state_location``) are recorded by the observer, after each sampled step.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .writer import HostChannel

F32 = np.float32


class Plan(NamedTuple):
    """What one compiled block samples: ``samples`` (spiking.bundles.Samples; None: nothing) for the
    kernel, over ``n`` steps (the block is cut where a buffer fills)."""

    samples: tuple | None
    n: int


class CompiledSampling:
    """The staging array and channel table of a Recording's writers on one network."""

    def __init__(self, writers: list, net):
        from ..spiking.bundles import SAMPLE_GROUPS, Samples     # the kernel's own type (numba keys on it)

        self._samples = Samples
        self.writers = writers
        columns, units, what = 0, [], []
        for wi, w in enumerate(writers):
            for ch in w.channels:
                group, index = net.state_location(ch.var, ch.layer)
                units.append(np.arange(ch.n_units, dtype=np.int64) if ch.units is None else ch.units.astype(np.int64))
                # columns count the units before this channel: it is both its first column and first unit
                what.append((SAMPLE_GROUPS[group], index, w.stream, columns, columns, ch.n_units, wi))
                columns += ch.n_units
        self.staging = np.zeros((max(w.block for w in writers), columns), dtype=F32)
        for (_, _, _, col, _, n, wi), ch in zip(what, (ch for w in writers for ch in w.channels)):
            ch.share(self.staging[:writers[wi].block, col:col + n])
        self.what = np.array(what, dtype=np.int64).reshape(-1, 7)
        self.units = np.concatenate(units) if units else np.zeros(0, dtype=np.int64)

    @staticmethod
    def supports(writers: list, net) -> bool:
        """Whether every channel is a host float32 buffer of a stream the network can locate."""
        if not writers or not callable(getattr(net, "state_location", None)):
            return False
        return all(type(ch) is HostChannel and ch.buf.dtype == F32 and ch.stream is None
                   for w in writers for ch in w.channels)

    def plan(self, steps: np.ndarray, counts: np.ndarray) -> Plan:
        """The rows each step of a block of ``steps`` (net.step as observers would see it) and
        ``counts`` (images each stream saw before its current one) fills, cut after the first step
        that fills a recorder's buffer."""
        n = len(steps)
        rows = None
        for wi, w in enumerate(self.writers):
            if not w.may_want(int(counts[0]), int(counts[-1])):    # outside its windows: at no cost
                continue
            wants = w.wants_many(steps, counts)
            if not wants.any():
                continue
            if rows is None:
                rows = np.full((len(self.writers), n), -1, dtype=np.int64)
            fill = w.rows + np.cumsum(wants) - 1
            rows[wi, wants] = fill[wants]
            full = np.flatnonzero(wants & (fill == w.block - 1))
            if full.size:
                n = min(n, int(full[0]) + 1)
        if rows is None:       # nothing sampled: the block runs as it would unrecorded
            return Plan(None, n)
        return Plan(self._samples(self.what, self.units, np.ascontiguousarray(rows[:, :n]), self.staging), n)

    def taken(self, plan: Plan, steps, counts, images, labels, write) -> None:
        """After the block: each sampled step's index fields; full buffers written by ``write``
        (the Recording's guard for failed writes). ``images``, ``labels``: (n, streams) of the block's steps."""
        for wi, w in enumerate(self.writers):
            took = None if plan.samples is None else plan.samples.rows[wi] >= 0
            if took is not None and took.any():
                at = plan.samples.rows[wi, took]
                w.index["step"][at] = steps[took]
                w.index["image"][at] = images[took, w.stream]
                w.index["label"][at] = labels[took, w.stream]
                w.index["image_count"][at] = counts[took]
                w.rows = int(at[-1]) + 1
            w.passed(int(counts[plan.n - 1]))
            if w.rows == w.block:
                write(w.write_block)
