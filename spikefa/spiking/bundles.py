"""The arguments of a block of steps, grouped by meaning as typed bundles.

A compiled kernel takes five NamedTuples (numba passes them as typed structs, fields by name)
instead of some thirty positional arguments:

  Inputs   the images and what the block writes back: X, order, labels, counts
  Block    which steps and what for: seq0, n_steps, steps_per_image, t0, learn, purpose, readout, fresh
  Options  the network's constants: seed, rate, tau, eta, gamma, phi, feedback, g
  Layers   the weights of every layer as tuples: WT, scale, b, B, maskT, use_mask, learns
  Streams  the state of the streams as tuples: s, V, P, U, Mod, A, D (state.StreamState's groups)
  Pending  cpu.py's plasticity held over to the next step's forward pass: s, coef, due
  Samples  state values recorders take inside a compiled block (record/compiled.py): what, units,
           rows, out

The builders fix each field's type (np.uint64 seed, float32 rates, int64 counters), so a kernel
is compiled once per network shape and never again for a differently typed number.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .codes import FEEDBACK_CODES, PHI_CODES
from .params import SpikingParams
from .state import F32, StreamState, Weights


class Inputs(NamedTuple):
    X: np.ndarray          # (n_images, n_0) float32 in [0, 1]
    order: np.ndarray      # (slots, S) int64: image of stream k in slot i
    labels: np.ndarray     # (slots, S) int64: its label
    counts: np.ndarray     # (slots, S, classes) float32: votes, added to


class Block(NamedTuple):
    seq0: int              # first step of the block, counted in the image sequence
    n_steps: int
    steps_per_image: int
    t0: int                # the random generator's step counter at seq0
    learn: bool            # plasticity on (the feedback path runs only then)
    purpose: int           # codes.PURPOSE_TRAIN or PURPOSE_TEST
    readout: int           # codes.READOUT_*: what the votes add up
    fresh: bool            # V = U = 0 at each image's first step
    settle: bool           # make every plasticity change before returning (False: cpu.py may hold
                           # the last step's over to the next block's forward pass)


class Options(NamedTuple):
    seed: np.uint64
    rate: bool             # mode "rate": every sample is its probability
    tau: np.float32
    eta: np.float32        # the learning rate now
    gamma: np.float32
    phi: int               # codes.PHI_*
    feedback: int          # codes.FEEDBACK_*
    g: int                 # output units per class


class Layers(NamedTuple):
    WT: tuple              # [h] (n_in, n_out) float32
    scale: np.ndarray      # (L,) float64, the pending decay (updated in place)
    b: tuple               # [h] (n_out,) float32
    B: tuple               # [h] feedback matrices (a (1, 1) stand-in where a layer has none)
    maskT: tuple           # [h] (n_in, n_out) bool (a (1, 1) stand-in when not sparse)
    use_mask: bool
    learns: np.ndarray     # (L,) bool


class Streams(NamedTuple):
    s: tuple
    V: tuple
    P: tuple
    U: tuple
    Mod: tuple
    A: tuple
    D: tuple


class Pending(NamedTuple):
    s: tuple               # [h] (S, n_h) float32: the presynaptic samples of the step whose plasticity waits
    coef: np.ndarray       # (L,) float32: that step's plasticity coefficient of each layer
    due: np.ndarray        # (L,) bool: whether layer h has plasticity waiting
    rows: tuple            # [h] (2, n_h) int64 scratch: the rows a forward pass adds up, and those it changes


class Samples(NamedTuple):
    what: np.ndarray       # (channels, 7) int64: group (SAMPLE_GROUPS), index in the group, stream,
                           # first column in out, first entry in units, units, recorder (row of rows)
    units: np.ndarray      # (total,) int64: each channel's unit indices, one after another
    rows: np.ndarray       # (recorders, n_steps) int64: the row of out that step j of the block
                           # fills for a recorder, -1 where it takes no sample
    out: np.ndarray        # (rows, columns) float32: the recorders' buffers side by side


# Samples.what's group codes: the StreamState group a sampled variable lives in
SAMPLE_GROUPS = {"s": 0, "V": 1, "U": 2, "Mod": 3}
NO_SAMPLES = Samples(np.zeros((0, 7), dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.int64),
                     np.zeros((0, 0), dtype=F32))


def pending(sizes, streams: int) -> Pending:
    L = len(sizes) - 1
    return Pending(tuple(np.zeros((streams, n), dtype=F32) for n in sizes[:-1]), np.zeros(L, dtype=F32),
                   np.zeros(L, dtype=bool), tuple(np.zeros((2, n), dtype=np.int64) for n in sizes[:-1]))


def block(seq0, n_steps, steps_per_image, t0, learn, purpose, readout, fresh, settle=True) -> Block:
    return Block(int(seq0), int(n_steps), int(steps_per_image), int(t0), bool(learn), int(purpose), int(readout),
                 bool(fresh), bool(settle))


def options(params: SpikingParams, eta: float) -> Options:
    return Options(np.uint64(params.seed), params.mode == "rate", F32(params.tau), F32(eta), F32(params.gamma),
                   PHI_CODES[params.phi], FEEDBACK_CODES[params.feedback], int(params.units_per_class))


def layers(weights: Weights, B: tuple, maskT: tuple, use_mask: bool) -> Layers:
    return Layers(tuple(weights.WT), weights.scale, tuple(weights.b), B, maskT, bool(use_mask), weights.learns)


def streams(state: StreamState) -> Streams:
    return Streams(*(tuple(group) for group in state.groups()))
