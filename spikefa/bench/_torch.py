"""The Figure 4 learning step written in plain PyTorch: what a snnTorch or Norse user would write.

Used by ``spikefa bench spiking`` as an outside reference for speed only, when PyTorch is
installed (``pip install torch``; it is not a dependency of spikefa). It is the same step as
spikefa.spiking.reference (forward with Bernoulli spikes, error neurons, feedback through fixed
random B, three-factor plasticity with weight decay, streams summed), written the way a careful
PyTorch user would: float32 tensors, preallocated state, in-place updates, no autograd. Its
random numbers come from torch's own generator, so its spikes are not spikefa's: it is compared
on time per step, never on values.
"""

from __future__ import annotations

import time


def available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def version() -> str:
    import torch

    return torch.__version__


class TorchSpikingStep:
    """State and weights of a 784-...-n_L spiking network in torch, S streams."""

    def __init__(self, sizes, streams: int, tau=0.9, eta=1e-3, gamma=1e-8, init_scale=0.05,
                 feedback_scale=0.1, units_per_class=100, threads: int | None = None, seed: int = 0):
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        g = torch.Generator().manual_seed(seed)
        f32 = torch.float32
        self.tau, self.eta, self.gamma = tau, eta, gamma
        self.L = len(sizes) - 1
        self.W = [(torch.rand(sizes[h + 1], sizes[h], generator=g, dtype=f32) * 2 - 1) * init_scale
                  for h in range(self.L)]
        self.b = [torch.zeros(sizes[h + 1], dtype=f32) for h in range(self.L)]
        self.B = [(torch.rand(sizes[h + 1], sizes[h + 2], generator=g, dtype=f32) * 2 - 1) * feedback_scale
                  for h in range(self.L - 1)]
        z = lambda n: torch.zeros(streams, n, dtype=f32)  # noqa: E731
        self.s = [z(n) for n in sizes]
        self.V = [z(n) for n in sizes[1:]]
        self.U = [z(n) for n in sizes[1:]]
        self.P = [z(n) for n in sizes[1:]]
        self.M = [z(n) for n in sizes[1:]]
        self.D = [z(n) for n in sizes[1:]]
        self.A = [z(n) for n in sizes[1:]]
        self.F = [z(n) for n in sizes[1:-1]]
        self.x = torch.rand(streams, sizes[0], generator=g, dtype=f32).clamp_(max=0.95)
        self.draw = lambda p, out, layer: torch.bernoulli(p, out=out)   # a test may draw as the reference
        self.target = z(sizes[-1])
        for k in range(streams):
            c = k % (sizes[-1] // units_per_class)
            self.target[k, c * units_per_class:(c + 1) * units_per_class] = 1

    def step(self) -> None:
        torch, tau = self.torch, self.tau
        with torch.no_grad():
            self.draw(self.x, self.s[0], 0)
            for h in range(self.L):
                torch.mm(self.s[h], self.W[h].T, out=self.A[h])
                self.V[h].add_(self.A[h].add_(self.b[h]).sub_(self.V[h]), alpha=tau)
                torch.sigmoid(self.V[h], out=self.P[h])
                self.draw(self.P[h], self.s[h + 1], h + 1)
            top = self.L - 1
            self.U[top].add_(torch.sub(self.target, self.P[top]).sub_(self.U[top]), alpha=tau)
            torch.tanh(self.U[top], out=self.M[top])
            for h in range(self.L - 2, -1, -1):
                torch.mm(self.M[h + 1], self.B[h].T, out=self.F[h])
                self.U[h].add_(self.F[h].sub_(self.U[h]), alpha=tau)
                torch.tanh(self.U[h], out=self.M[h])
            for h in range(self.L):
                torch.mul(self.M[h], self.P[h], out=self.D[h])
                self.D[h].mul_(1 - self.P[h])
                self.W[h].mul_(1 - self.gamma).addmm_(self.D[h].T, self.s[h], alpha=self.eta)
                self.b[h].mul_(1 - self.gamma).add_(self.D[h].sum(0), alpha=self.eta)


def seconds_per_step(sizes, streams: int, steps: int, repeats: int = 3, threads: int | None = None,
                     units_per_class: int = 100) -> float:
    """Best over ``repeats`` of the mean time of one learning step, after a warm-up."""
    net = TorchSpikingStep(sizes, streams, threads=threads, units_per_class=units_per_class)
    for _ in range(min(steps, 20)):
        net.step()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            net.step()
        best = min(best, (time.perf_counter() - t0) / steps)
    return best
