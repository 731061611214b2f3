"""The continuous-time spiking network of Figure 4 (see network.py for the user's view).

Backends: ``numpy`` (reference.py, the specification in code), ``cpu`` (cpu.py, Numba) and
``cuda`` (cuda.py, Numba CUDA, imported only when asked for). For the same seed all three draw the
same spikes and agree step by step to float32 rounding.
"""

from .checkpoint import load_checkpoint, save_checkpoint
from .network import STATE_VARS, SpikingNetwork
from .params import NETWORK_SCHEMA, SpikingParams

__all__ = ["SpikingNetwork", "SpikingParams", "NETWORK_SCHEMA", "STATE_VARS", "save_checkpoint",
           "load_checkpoint"]
