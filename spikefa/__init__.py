"""spikefa: continuous-time stochastic spiking networks that learn by feedback alignment."""

__version__ = "0.1.0"
