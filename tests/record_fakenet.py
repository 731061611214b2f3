"""A small stand-in network that follows the observer protocol of docs/design.md.

State at step t is a pure function of (seed, t), so a run resumed at any step reproduces the
uninterrupted one exactly, and the expected recordings can be computed independently.
"""

import numpy as np

from spikefa import rng


class FakeNet:
    backend = "numpy"

    def __init__(self, sizes=(6, 20, 12, 10), streams=1, steps_per_image=5, seed=3, mode="spiking"):
        self.sizes = list(sizes)
        self.n_streams = streams
        self.steps_per_image = steps_per_image
        self.seed = seed
        self.mode = mode
        self.observers = []
        self.step = 0
        self._state = self.state_at(0)
        self._set_images(0)

    @property
    def n_layers(self):
        return len(self.sizes) - 1

    def state_at(self, t):
        """Every variable when observers see step t: {(var, layer): (streams, n) float32}."""
        out = {}
        for layer, n in enumerate(self.sizes):
            units = np.arange(n)
            base = np.array([np.sin(0.1 * t + 0.7 * units + s) for s in range(self.n_streams)], dtype=np.float32)
            if self.mode == "rate":
                spikes = (0.5 + 0.5 * base).astype(np.float32)
            else:
                spikes = np.stack([rng.bernoulli(self.seed, t, rng.layer_key(layer, s), np.full(n, 0.3, np.float32))
                                   for s in range(self.n_streams)])
            out[("spikes", layer)] = spikes
            if layer:
                out[("V", layer)] = base
                out[("U", layer)] = (0.5 * base + 0.01 * layer).astype(np.float32)
                out[("mod", layer)] = np.tanh(out[("U", layer)]).astype(np.float32)
        L = self.n_layers
        out[("error", L)] = out[("U", L)]
        return out

    def image_at(self, k, stream=0):
        """(images_seen, image_index, label) while observers see step k (steps completed, from 1)."""
        count = max(k - 1, 0) // self.steps_per_image
        return count, (7 * count + 1 + stream) % 50, (3 * count + stream) % 10

    def _set_images(self, k):
        count, self.image_index, self.label = self.image_at(k)
        self.images_seen = count * self.n_streams     # as SpikingNetwork counts: all streams together
        self.image_indices = np.array([self.image_at(k, s)[1] for s in range(self.n_streams)])
        self.labels = np.array([self.image_at(k, s)[2] for s in range(self.n_streams)])

    def layer_state(self, var, layer, stream=0):
        arr = self._state[(var, layer)]
        return arr if stream is None else arr[stream]

    def run(self, n_steps):
        """Like SpikingNetwork.train: the counter advances, then the observers see the new state."""
        for _ in range(n_steps):
            self.step += 1
            self._state = self.state_at(self.step)
            self._set_images(self.step)
            for obs in list(self.observers):
                obs.on_step(self)

    def resume_at(self, step):
        """The state a checkpoint taken after ``step`` steps restores."""
        self.step = step
        self._state = self.state_at(step)
