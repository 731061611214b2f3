"""Parameters of the continuous-time spiking network, checked once when a network is built.

:class:`SpikingParams` can be made in Python (keyword arguments) or from a model file's
``[network]`` table (:meth:`SpikingParams.from_table`); ``NETWORK_SCHEMA`` is that table's schema,
shared with the ``spiking`` experiment so both read the same keys with the same defaults and
ranges: :meth:`SpikingParams.check` runs the schema's own :func:`check_value` on every field, and
:func:`check_network` the rules between keys, which a model file gets before any work too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import INT_LIMIT, Field, check_value
from ..errors import ConfigError

MODES = ("spiking", "rate")
FEEDBACK = ("fa", "bp", "direct", "none")
BACKENDS = ("numpy", "cpu", "cuda")
PHI = ("tanh", "linear")
CPU_KERNELS = ("auto", "spike-rows", "gemm")
READOUTS = ("spikes", "rate", "psp")   # the order is the kernels' readout code (0, 1, 2)

# Upper bounds: far above any network this package trains, low enough that a typo fails here
# and not as a MemoryError or an hours-long hang.
MAX_UNITS = 100_000          # per layer
MAX_WEIGHTS = 500_000_000    # in all layers: 2 GB per float32 copy, and training keeps several
MAX_STREAMS = 4096
MAX_STEPS = 10_000           # time steps per image

STEPS_TRAIN = Field(5, "int", "N: time steps each training image is shown for", min=1, max=MAX_STEPS)
STEPS_TEST = Field(5, "int", "M: time steps each test image is shown for", min=1, max=MAX_STEPS)
SEED = Field(0, "int", "seed of weights, feedback matrices, spikes and data order", min=0, max=INT_LIMIT)
TEST_READOUT = Field("spikes", "str", "what a test image's class vote adds up over its M steps, per class "
                     "group of output units: spikes (the paper's spike count), rate (sigma(V_L), the expected "
                     "spike count: the same dynamics without the output layer's sampling noise), psp (V_L)",
                     choices=READOUTS)
TEST_CARRY = Field(False, "bool", "false: each test image starts from V = U = 0; true: test dynamics run on from "
                   "one test image to the next in each test stream, as training's do (from 0 at the start "
                   "of every evaluation, so evaluating never changes training)")

NETWORK_SCHEMA = {
    "sizes": Field([784, 1500, 1500, 1500, 1000], "list[int]",
                   "units per layer, input first; the last layer holds classes * units_per_class units",
                   min=1, max=MAX_UNITS, min_len=2, max_len=64),
    "units_per_class": Field(100, "int", "output units voting for each class", min=1, max=MAX_UNITS),
    "tau": Field(0.9, "float", "PSP and feedback update factor per step: V += tau (input - V)",
                 min=0, max=1, min_exclusive=True),
    "eta": Field(1e-3, "float", "learning rate per time step", min=0),
    "gamma": Field(1e-8, "float", "weight decay per time step: W -= gamma W", min=0, max=1,
                   max_exclusive=True),
    "init_scale": Field(0.05, "float", "forward weights start ~ U[-init_scale, init_scale]", min=0),
    "bias_scale": Field(0.0, "float", "biases start ~ U[-bias_scale, bias_scale]", min=0),
    "feedback_scale": Field(0.1, "float", "feedback matrices B ~ U[-feedback_scale, feedback_scale]", min=0),
    "phi": Field("tanh", "str", "feedback nonlinearity phi_d, a sigmoid centred on 0", choices=PHI),
    "mode": Field("spiking", "str", "spiking: Bernoulli spikes; rate: every sample replaced by its probability",
                  choices=MODES),
    "feedback": Field("fa", "str", "fa: random fixed B; bp: tied to W^T; direct: B from the error "
                      "neurons to every hidden layer; none: hidden layers do not learn", choices=FEEDBACK),
    "sparse": Field(0.0, "float", "fraction of the elements of every W and B removed (kept at 0)",
                    min=0, max=1, max_exclusive=True),
    "streams": Field(1, "int", "parallel input streams S sharing the weights (plasticity summed); "
                     "1 is the paper's network", min=1, max=MAX_STREAMS),
    "test_streams": Field(64, "int", "parallel streams used while testing (no plasticity: "
                          "results do not depend on it beyond the random draws)", min=1, max=MAX_STREAMS),
    "threads": Field(0, "int", "cpu backend threads (Numba's for spike-rows, BLAS's for gemm); 0: automatic "
                     "(spike-rows: every core only for several streams on a large network, where a kernel call "
                     "has milliseconds of work; gemm: BLAS's default)", min=0, max=1024),
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
    test_readout: str = "spikes"
    test_carry: bool = False

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
        """The model file's checks (same fields, same ranges), then the rules between keys."""
        source = "spiking network"
        for name, spec in NETWORK_SCHEMA.items():
            value = getattr(self, name)
            check_value(spec, list(value) if name == "sizes" else value, name, source)
        check_value(STEPS_TRAIN, self.steps_train, "steps_train", source)
        check_value(STEPS_TEST, self.steps_test, "steps_test", source)
        check_value(SEED, self.seed, "seed", source)
        check_value(TEST_READOUT, self.test_readout, "test_readout", source)
        check_value(TEST_CARRY, self.test_carry, "test_carry", source)
        if not isinstance(self.shuffle, bool):
            raise ConfigError(f"{source}: key 'shuffle' = {self.shuffle!r}: expected true or false")
        check_network(self.as_dict(), lambda key: source, prefix="")

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


def check_network(net: dict, origin, prefix: str = "network.") -> None:
    """The rules between a network's keys; ``origin(key)`` says where a key's value came from."""
    sizes, per_class = list(net["sizes"]), net["units_per_class"]
    k_sizes, k_per_class = prefix + "sizes", prefix + "units_per_class"
    where = ", ".join(dict.fromkeys((origin(k_per_class), origin(k_sizes))))
    if sizes[-1] % per_class:
        raise ConfigError(f"{where}: key '{k_per_class}' = {per_class}: expected a divisor of the output "
                          f"layer size {sizes[-1]} ({k_sizes}[-1] = classes x units_per_class)")
    if sizes[-1] // per_class < 2:
        raise ConfigError(f"{where}: key '{k_per_class}' = {per_class}: expected at most half the output "
                          f"units, {sizes[-1] // 2} (2 classes or more)")
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    if weights > MAX_WEIGHTS:
        raise ConfigError(f"{origin(k_sizes)}: key '{k_sizes}' = {sizes}: {weights:.3g} weights in all; expected "
                          f"at most {MAX_WEIGHTS:.0e} (2 GB per float32 copy); choose smaller layers")
