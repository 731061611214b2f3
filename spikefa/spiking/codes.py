"""Named codes for the modes of the compiled kernels: what their integer arguments mean.

Compiled code (numba njit and cuda.jit) reads these module constants as literals, so a kernel
says ``if feedback == FEEDBACK_BP`` and never ``if fb_kind == 1``. Each code is the index of its
name in params' tuple of choices, so the two cannot disagree.
"""

from __future__ import annotations

from .params import FEEDBACK, PHI, READOUTS

# network.feedback: where the hidden layers' feedback neurons take their drive
FEEDBACK_FA = 0       # random fixed B from the layer above
FEEDBACK_BP = 1       # W^T of the layer above (tied weights)
FEEDBACK_DIRECT = 2   # random fixed B from the error neurons
FEEDBACK_NONE = 3     # no feedback: hidden layers do not learn

# network.phi: phi_d, the feedback neurons' output
PHI_TANH = 0
PHI_LINEAR = 1

# train.test_readout: what the votes add up
READOUT_SPIKES = 0    # the output spikes s_L
READOUT_RATE = 1      # sigma(V_L), the expected spike counts
READOUT_PSP = 2       # V_L

# the purpose word of the random keys (rng.layer_key): training and testing draw apart
PURPOSE_TRAIN = 0
PURPOSE_TEST = 1

FEEDBACK_CODES = {name: FEEDBACK.index(name) for name in FEEDBACK}
PHI_CODES = {name: PHI.index(name) for name in PHI}
READOUT_CODES = {name: READOUTS.index(name) for name in READOUTS}

assert FEEDBACK_CODES == {"fa": FEEDBACK_FA, "bp": FEEDBACK_BP, "direct": FEEDBACK_DIRECT, "none": FEEDBACK_NONE}
assert PHI_CODES == {"tanh": PHI_TANH, "linear": PHI_LINEAR}
assert READOUT_CODES == {"spikes": READOUT_SPIKES, "rate": READOUT_RATE, "psp": READOUT_PSP}


def readout_array(readout: int, spikes, P, V):
    """What the votes add up under ``readout``: the output spikes, sigma(V_L) or V_L."""
    if readout == READOUT_RATE:
        return P
    if readout == READOUT_PSP:
        return V
    return spikes
