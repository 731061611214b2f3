"""Parameters of the continuous-time spiking network, declared once.

:class:`SpikingParams` is the one declaration: each dataclass field carries its model-file
:class:`~spikefa.config.Field` (type, default, range, meaning) and the table it is written in
(``[network]``, ``[train]`` or the top level), so the ``spiking`` experiment's schema is built from
it (:func:`network_schema`, :func:`param_field`) and cannot disagree with it. A field has one name
everywhere: in Python, in the model file (``train.steps_per_image``, ``network.tau``) and in
checkpoints. :meth:`SpikingParams.check` validates with the model file's own
:func:`~spikefa.config.resolve` over the same Fields, then :func:`check_network` checks the rules
between keys, which a model file gets before any work too.

SpikingParams can be made in Python (keyword arguments), from a model file's ``[network]`` table
(:meth:`SpikingParams.from_table`, which refuses unknown keys) or from a whole resolved model
(:meth:`SpikingParams.from_model`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import INT_LIMIT, Field, refuse_unknown_keys, resolve
from ..errors import ConfigError

MODES = ("spiking", "rate")
FEEDBACK = ("fa", "bp", "direct", "none")
BACKENDS = ("numpy", "cpu", "cuda")
PHI = ("tanh", "linear")
FEEDBACK_DTYPES = ("float32", "bfloat16")
CPU_KERNELS = ("auto", "spike-rows", "gemm")
READOUTS = ("spikes", "rate", "psp")   # the order is the kernels' readout code (0, 1, 2)

# Upper bounds: far above any network this package trains, low enough that a typo fails here
# and not as a MemoryError or an hours-long hang.
MAX_UNITS = 100_000          # per layer
MAX_WEIGHTS = 500_000_000    # in all layers: 2 GB per float32 copy, and training keeps several
MAX_STREAMS = 4096
MAX_STEPS = 10_000           # time steps per image


def _param(table: str, default, kind: str, doc: str, **rules):
    """A dataclass field declared with its model-file Field and the table it is written in
    ("network", "train", or "" for the top level)."""
    spec = Field(default, kind, doc, **rules)
    value = tuple(default) if isinstance(default, list) else default
    return dataclasses.field(default=value, metadata={"field": spec, "table": table})


@dataclass(frozen=True)
class SpikingParams:
    """Everything that defines a network. Each field's metadata holds its model-file Field
    (``param_field(name)``: default, range, meaning) and table (``model_key(name)``)."""

    # [network], in the order of the model file's table
    sizes: tuple = _param("network", [784, 1500, 1500, 1500, 1000], "list[int]",
                          "units per layer, input first; the last layer holds classes * units_per_class units",
                          min=1, max=MAX_UNITS, min_len=2, max_len=64)
    units_per_class: int = _param("network", 100, "int", "output units voting for each class", min=1, max=MAX_UNITS)
    tau: float = _param("network", 0.9, "float", "PSP and feedback update factor per step: V += tau (input - V)",
                        min=0, max=1, min_exclusive=True)
    eta: float = _param("network", 1e-3, "float", "learning rate per time step", min=0)
    gamma: float = _param("network", 1e-8, "float", "weight decay per time step: W -= gamma W", min=0, max=1,
                          max_exclusive=True)
    init_scale: float = _param("network", 0.05, "float", "forward weights start ~ U[-init_scale, init_scale]",
                               min=0)
    bias_scale: float = _param("network", 0.0, "float", "biases start ~ U[-bias_scale, bias_scale]", min=0)
    feedback_scale: float = _param("network", 0.1, "float",
                                   "feedback matrices B ~ U[-feedback_scale, feedback_scale]", min=0)
    feedback_dtype: str = _param("network", "float32", "str",
                                 "how B is stored: float32, or bfloat16 (B's values rounded to bfloat16 on "
                                 "every backend; the cpu backend then reads half the bytes of B per step)",
                                 choices=FEEDBACK_DTYPES)
    phi: str = _param("network", "tanh", "str", "feedback nonlinearity phi_d, a sigmoid centred on 0", choices=PHI)
    mode: str = _param("network", "spiking", "str",
                       "spiking: Bernoulli spikes; rate: every sample replaced by its probability", choices=MODES)
    feedback: str = _param("network", "fa", "str", "fa: random fixed B; bp: tied to W^T; direct: B from the error "
                           "neurons to every hidden layer; none: hidden layers do not learn", choices=FEEDBACK)
    sparse: float = _param("network", 0.0, "float", "fraction of the elements of every W and B removed (kept at 0)",
                           min=0, max=1, max_exclusive=True)
    streams: int = _param("network", 1, "int", "parallel input streams S sharing the weights (plasticity summed); "
                          "1 is the paper's network", min=1, max=MAX_STREAMS)
    test_streams: int = _param("network", 64, "int", "parallel streams used while testing (no plasticity: "
                               "results do not depend on it beyond the random draws)", min=1, max=MAX_STREAMS)
    threads: int = _param("network", 0, "int", "cpu backend threads (Numba's for spike-rows, BLAS's for gemm); "
                          "0: automatic (spike-rows: every core only for several streams on a large network, where "
                          "a kernel call has milliseconds of work; gemm: BLAS's default)", min=0, max=1024)
    backend: str = _param("network", "cpu", "str", "numpy (reference), cpu (Numba), cuda (Numba CUDA)",
                          choices=BACKENDS)
    cpu_kernel: str = _param("network", "auto", "str", "cpu backend step: spike-rows (adds only the weight rows of "
                             "units that spiked; best for few streams), gemm (BLAS matrix products over all streams; "
                             "best for many), auto (gemm from 8 streams when a layer has 100k weights or more)",
                             choices=CPU_KERNELS)
    # [train]
    steps_per_image: int = _param("train", 5, "int", "N: time steps each training image is shown for",
                                  min=1, max=MAX_STEPS)
    test_steps: int = _param("train", 5, "int", "M: time steps each test image is shown for", min=1, max=MAX_STEPS)
    test_readout: str = _param("train", "spikes", "str", "what a test image's class vote adds up over its M steps, "
                               "per class group of output units: spikes (the paper's spike count), rate (sigma(V_L), "
                               "the expected spike count: the same dynamics without the output layer's sampling "
                               "noise), psp (V_L)", choices=READOUTS)
    test_carry: bool = _param("train", False, "bool", "false: each test image starts from V = U = 0; true: test "
                              "dynamics run on from one test image to the next in each test stream, as training's "
                              "do (from 0 at the start of every evaluation, so evaluating never changes training)")
    shuffle: bool = _param("train", True, "bool", "a fresh random order of the training set every epoch")
    # top level
    seed: int = _param("", 0, "int", "seed of weights, feedback matrices, spikes and data order", min=0,
                       max=INT_LIMIT)

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
        """The model file's validation (the same Fields through the same resolve), then the rules
        between keys."""
        source = "spiking network"
        resolve(FIELDS, self.as_dict(), source)
        check_network(self.as_dict(), lambda key: source, prefix="")

    @classmethod
    def from_table(cls, network: dict, source: str = "[network] table", **more) -> "SpikingParams":
        """From a ``[network]`` table plus keyword arguments (steps_per_image, seed, ...). A key
        that is not a ``[network]`` field is refused, with the key meant for a near miss."""
        refuse_unknown_keys(NETWORK_SCHEMA, network, source, "network.", _MODEL_SCHEMA)
        return cls(**{**network, **more})

    @classmethod
    def from_model(cls, params: dict, source: str = "<model>") -> "SpikingParams":
        """From a resolved model (``Model.params``): every field from its own table; a table
        without a field's key (``compare`` has no ``network.mode``) leaves its default."""
        kw = {}
        for name, table in _TABLES.items():
            where = params if not table else params.get(table, {})
            if table != "network" and name in where:
                kw[name] = where[name]
        return cls.from_table(params.get("network", {}), source, **kw)

    @classmethod
    def from_stored(cls, stored: dict, **changes) -> "SpikingParams":
        """From ``as_dict()`` as a checkpoint stores it; older checkpoints' names are read too."""
        kw = {LEGACY_NAMES.get(k, k): v for k, v in stored.items()}
        kw.update(changes)
        return cls(**kw)

    def replace(self, **changes) -> "SpikingParams":
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["sizes"] = list(self.sizes)
        return d


# what checkpoints written before the names were made one called two fields
LEGACY_NAMES = {"steps_train": "steps_per_image", "steps_test": "test_steps"}

FIELDS: dict[str, Field] = {f.name: f.metadata["field"] for f in dataclasses.fields(SpikingParams)}
_TABLES: dict[str, str] = {f.name: f.metadata["table"] for f in dataclasses.fields(SpikingParams)}


def param_field(name: str) -> Field:
    """The model-file Field of SpikingParams' field ``name`` (its default, range and meaning)."""
    return FIELDS[name]


def model_key(name: str) -> str:
    """The dotted model-file key of field ``name``: "network.tau", "train.steps_per_image", "seed"."""
    return f"{_TABLES[name]}.{name}" if _TABLES[name] else name


def network_schema() -> dict:
    """The ``[network]`` table's schema: every field written there, in declaration order."""
    return {name: FIELDS[name] for name, table in _TABLES.items() if table == "network"}


NETWORK_SCHEMA = network_schema()
# the keys of the model file that SpikingParams reads, for did-you-mean across tables
_MODEL_SCHEMA = {"network": NETWORK_SCHEMA, "train": {n: FIELDS[n] for n, t in _TABLES.items() if t == "train"},
                 **{n: FIELDS[n] for n, t in _TABLES.items() if not t}}


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
