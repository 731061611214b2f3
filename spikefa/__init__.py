"""spikefa: continuous-time stochastic spiking networks that learn by feedback alignment."""

__version__ = "0.1.0"

# the experiments are the catalogue spikefa.config.load_model reads by default; config itself
# imports nothing above it
from . import experiments as _experiments  # noqa: E402,F401
