"""``net.W[l]`` while weight decay is pending: the true weights, computed, that write through."""

from __future__ import annotations

import numpy as np

from .state import F32


class DecayedWeights(np.ndarray):
    """W[l] while decay is pending: a copy of WT.T times the scale, as the backends fold it.

    Folding the decay into the stored weights on every read would drop the part of the float64
    scale that float32 cannot hold (1 - 1e-8 is 1.0 in float32) and so change the run; only a
    write folds it. Slices of this array are plain copies: write through ``net.W[l][index] = value``.
    """

    @classmethod
    def of(cls, weights, h: int) -> "DecayedWeights":
        true = weights.WT[h].T * F32(weights.scale[h])
        arr = true.view(cls)
        arr._owner = (weights, h)
        return arr

    def __array_finalize__(self, obj):
        self._owner = None          # views and results of arithmetic do not write through

    def __setitem__(self, index, value):
        super().__setitem__(index, value)
        if self._owner is not None:
            weights, h = self._owner
            WT = weights.WT[h]
            if weights.scale[h] != 1.0:    # as Weights.fold_decay does, for this layer only
                WT *= F32(weights.scale[h])
                weights.scale[h] = 1.0
            WT.T[index] = value


def true_weights(weights) -> list:
    """[None, W_1, ..., W_L]: WT.T where no decay is pending, else a DecayedWeights."""
    out = [None]
    for h, WT in enumerate(weights.WT):
        out.append(WT.T if weights.scale[h] == 1.0 else DecayedWeights.of(weights, h))
    return out
