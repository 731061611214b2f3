"""Parameters of the continuous-time spiking network, checked once when a network is built.

:class:`SpikingParams` can be made in Python (keyword arguments) or from a model file's
``[network]`` table (:meth:`SpikingParams.from_table`); ``NETWORK_SCHEMA`` is that table's schema,
shared with the ``spiking`` experiment so both read the same keys with the same defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import Field
from ..errors import ConfigError

MODES = ("spiking", "rate")
FEEDBACK = ("fa", "bp", "direct", "none")
BACKENDS = ("numpy", "cpu", "cuda")
PHI = ("tanh", "linear")
CPU_KERNELS = ("auto", "spike-rows", "gemm")

NETWORK_SCHEMA = {
    "sizes": Field([784, 1500, 1500, 1500, 1000], "list[int]",
                   "units per layer, input first; the last layer holds classes * units_per_class units",
                   min=1, min_len=2),
    "units_per_class": Field(100, "int", "output units voting for each class", min=1),
    "tau": Field(0.9, "float", "PSP and feedback update factor per step: V += tau (input - V)",
                 min=0, max=1, min_exclusive=True),
    "eta": Field(1e-3, "float", "learning rate per time step", min=0),
    "gamma": Field(1e-8, "float", "weight decay per time step: W -= gamma W", min=0, max=1),
    "init_scale": Field(0.05, "float", "forward weights start ~ U[-init_scale, init_scale]", min=0),
    "bias_scale": Field(0.0, "float", "biases start ~ U[-bias_scale, bias_scale]", min=0),
    "feedback_scale": Field(0.1, "float", "feedback matrices B ~ U[-feedback_scale, feedback_scale]", min=0),
    "phi": Field("tanh", "str", "feedback nonlinearity phi_d, a sigmoid centred on 0", choices=PHI),
    "mode": Field("spiking", "str", "spiking: Bernoulli spikes; rate: every sample replaced by its probability",
                  choices=MODES),
    "feedback": Field("fa", "str", "fa: random fixed B; bp: tied to W^T; direct: B from the error "
                      "neurons to every hidden layer; none: hidden layers do not learn", choices=FEEDBACK),
    "sparse": Field(0.0, "float", "fraction of the elements of every W and B removed (kept at 0)",
                    min=0, max=1, min_exclusive=False),
    "streams": Field(1, "int", "parallel input streams S sharing the weights (plasticity summed); "
                     "1 is the paper's network", min=1),
    "test_streams": Field(64, "int", "parallel streams used while testing (no plasticity: "
                          "results do not depend on it beyond the random draws)", min=1),
    "threads": Field(0, "int", "cpu backend threads (Numba's for spike-rows, BLAS's for gemm); 0: automatic "
                     "(spike-rows: every core only for several streams on a large network, where a kernel call "
                     "has milliseconds of work; gemm: BLAS's default)", min=0),
    "backend": Field("cpu", "str", "numpy (reference), cpu (Numba), cuda (Numba CUDA)", choices=BACKENDS),
    "cpu_kernel": Field("auto", "str", "cpu backend step: spike-rows (adds only the weight rows of units that "
                        "spiked; best for few streams), gemm (BLAS matrix products over all streams; best for "
                        "many), auto (gemm from 8 streams when a layer has 100k weights or more)", choices=CPU_KERNELS),
}


@dataclass(frozen=True)
class SpikingParams:
    """Everything that defines a network; see ``NETWORK_SCHEMA`` for the meaning of each field.

    ``steps_train`` (N) and ``steps_test`` (M) are the time steps each image is shown for.
    """

    sizes: tuple = (784, 1500, 1500, 1500, 1000)
    units_per_class: int = 100
    tau: float = 0.9
    eta: float = 1e-3
    gamma: float = 1e-8
    init_scale: float = 0.05
    bias_scale: float = 0.0
    feedback_scale: float = 0.1
    phi: str = "tanh"
    mode: str = "spiking"
    feedback: str = "fa"
    sparse: float = 0.0
    streams: int = 1
    test_streams: int = 64
    backend: str = "cpu"
    threads: int = 0
    cpu_kernel: str = "auto"
    steps_train: int = 5
    steps_test: int = 5
    seed: int = 0
    shuffle: bool = True

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(n) for n in self.sizes))
        self.check()

    @property
    def n_layers(self) -> int:
        """L: layers with weights (the input is layer 0)."""
        return len(self.sizes) - 1

    @property
    def n_classes(self) -> int:
        return self.sizes[-1] // self.units_per_class

    def check(self) -> None:
        def bad(key, value, allowed):
            raise ConfigError(f"spiking network: {key} = {value!r}: expected {allowed}")

        if len(self.sizes) < 2 or any(n < 1 for n in self.sizes):
            bad("sizes", list(self.sizes), "at least two layer sizes, each >= 1")
        if self.units_per_class < 1 or self.sizes[-1] % self.units_per_class:
            bad("units_per_class", self.units_per_class,
                f"a divisor of the output layer size {self.sizes[-1]}")
        if self.n_classes < 2:
            bad("units_per_class", self.units_per_class, "at most half the output units (2 classes or more)")
        if not 0 < self.tau <= 1:
            bad("tau", self.tau, "0 < tau <= 1")
        for key in ("eta", "init_scale", "bias_scale", "feedback_scale"):
            if getattr(self, key) < 0:
                bad(key, getattr(self, key), ">= 0")
        if not 0 <= self.gamma < 1:
            bad("gamma", self.gamma, "0 <= gamma < 1")
        if not 0 <= self.sparse < 1:
            bad("sparse", self.sparse, "0 <= sparse < 1")
        for key, allowed in (("mode", MODES), ("feedback", FEEDBACK), ("backend", BACKENDS), ("phi", PHI),
                              ("cpu_kernel", CPU_KERNELS)):
            if getattr(self, key) not in allowed:
                bad(key, getattr(self, key), "one of " + ", ".join(allowed))
        if self.threads < 0:
            bad("threads", self.threads, "an integer >= 0 (0: automatic)")
        for key in ("streams", "test_streams", "steps_train", "steps_test"):
            if int(getattr(self, key)) < 1:
                bad(key, getattr(self, key), "an integer >= 1")
        if self.seed < 0:
            bad("seed", self.seed, "an integer >= 0")

    @classmethod
    def from_table(cls, network: dict, **more) -> "SpikingParams":
        """From a resolved ``[network]`` table plus keyword arguments (steps_train, seed, ...)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in network.items() if k in names}
        kw.update(more)
        return cls(**kw)

    def replace(self, **changes) -> "SpikingParams":
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["sizes"] = list(self.sizes)
        return d
