"""Figure 3a, b: a 784-1000-10 network of logistic units learns MNIST by backprop, feedback
alignment, shallow learning, and feedback alignment with 50% of W and B removed; per-example
updates, n runs per arm (each FA run with a new B). Test error over training (3a) and the angle
between FA's and backprop's hidden teaching signals (3b)."""

from __future__ import annotations

import json
import os
import time

import h5py
import numpy as np

from ..config import Field
from ..errors import ConfigError, DataError, OutputError
from ..data import mnist
from ..rate import metrics
from ..rate.network import RateNet
from ..rate.train import Scratch, train
from . import _rate
from ._rate import FEEDBACK, STREAM, WEIGHTS, append_block, seeded

DOC = "Figure 3a/b: MNIST 784-1000-10 logistic net, bp vs fa vs shallow vs 50%-sparse fa"

# arm -> (rule, fraction of W and B removed)
ARMS = {"bp": ("bp", 0.0), "fa": ("fa", 0.0), "shallow": ("shallow", 0.0), "fa_sparse": ("fa", 0.5),
        "fa_fprime": ("fa_fprime", 0.0), "dfa": ("dfa", 0.0)}

SCHEMA = {
    "seed": Field(0, "int", "seed of the weights, feedback matrices and example order", min=0),
    "runs": Field(20, "int", "runs per arm; run k of every arm starts from the same W (before masking) "
                  "and sees the same example order; each run draws a new B", min=1),
    "arms": Field(["bp", "fa", "shallow", "fa_sparse"], "list[str]", "arms to run", choices=tuple(ARMS),
                  min_len=1),
    "network": {
        "hidden": Field(1000, "int", "hidden units", min=1),
        "init_scale": _rate.scale_field([0.05], "forward weights and biases ~ U[-w, w]"),
        "feedback_scale": _rate.scale_field([0.05], "feedback weights B ~ U[-beta, beta]"),
        "sparse_fraction": Field(0.5, "float", "fraction of W and B removed in the sparse arm", min=0, max=0.99),
    },
    "data": {
        "path": Field(None, "str", "folder with the MNIST files (default: $SPIKEFA_MNIST, then data/mnist)",
                      optional=True),
        "train_examples": Field(60000, "int", "training images used (the first n)", min=1, max=60000),
        "test_examples": Field(10000, "int", "test images used (the first n)", min=1, max=10000),
        "train_error_examples": Field(10000, "int", "training images on which the training error is "
                                      "measured at each evaluation (0: not measured)", min=0, max=60000),
    },
    "train": {
        "epochs": Field(60, "int", "passes over the training images (shuffled each epoch)", min=1),
        "eta": Field(1e-3, "float", "learning rate (paper: 1e-3)", min=0, min_exclusive=True),
        "decay": Field(1e-6, "float", "weight decay alpha: W <- W - eta*alpha*W (paper: 1e-6)", min=0),
        "evals_per_epoch": Field(1, "int", "test-error evaluations per epoch", min=1),
        "angle_block": Field(1000, "int", "examples per block of the delta angle's mean and s.d. (Fig. 3b)",
                             min=1),
        "angle_sample_every": Field(100, "int", "keep every n-th per-example delta angle", min=1),
    },
}


def estimate_seconds(params) -> float:
    """Projected wall time of one run file on this machine: a short timed block of training and
    of evaluation, scaled to the file's runs, arms, epochs and evaluations."""
    net_p, data_p, train_p = params["network"], params["data"], params["train"]
    rng = np.random.default_rng(0)
    X = (rng.random((2000, 784)) < 0.19).astype(np.float32) * rng.random((2000, 784), dtype=np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 2000)]
    net = RateNet.init([784, net_p["hidden"], 10], rng, hidden="logistic", output="logistic",
                       init_scale=net_p["init_scale"], feedback_scale=net_p["feedback_scale"])
    scratch = Scratch.for_net(net)
    train(net, X, Y, "fa", 1e-3, order=np.arange(10), scratch=scratch, record_angle=True)    # compile
    t = time.perf_counter()
    train(net, X, Y, "fa", 1e-3, order=np.arange(2000), scratch=scratch, record_angle=True)
    per_example = (time.perf_counter() - t) / 2000
    t = time.perf_counter()
    net.predict(X)
    per_prediction = (time.perf_counter() - t) / 2000
    evaluated = data_p["test_examples"] + data_p["train_error_examples"]
    per_epoch = (data_p["train_examples"] * per_example
                 + train_p["evals_per_epoch"] * evaluated * per_prediction)
    return params["runs"] * len(params["arms"]) * train_p["epochs"] * per_epoch


def load_data(data_p):
    images, labels = mnist.load("train", data_p["path"])
    test_images, test_labels = mnist.load("test", data_p["path"])
    n, m = data_p["train_examples"], data_p["test_examples"]
    X = mnist.as_float(images[:n])
    Y = np.eye(10, dtype=np.float32)[labels[:n]]
    return X, Y, labels[:n], mnist.as_float(test_images[:m]), test_labels[:m]


def run(params, out, ctx):
    net_p, data_p, train_p = params["network"], params["data"], params["train"]
    seed, runs, arms = params["seed"], params["runs"], params["arms"]
    X, Y, labels, X_test, test_labels = load_data(data_p)
    n_train = X.shape[0]
    n_check = min(data_p["train_error_examples"], n_train)
    eval_interval = max(1, n_train // train_p["evals_per_epoch"])
    block = min(train_p["angle_block"], eval_interval)
    epochs = train_p["epochs"]
    sizes = [X.shape[1], net_p["hidden"], 10]
    resumed = Checkpoint.load(ctx.resume, params, out) if ctx.resume else None
    done = resumed.done if resumed else {}           # (arm, run) -> (final test error, final angle)
    ckpt = Checkpoint(ctx.checkpoint_path(), params, done)
    with ctx.progress(total=runs * len(arms) * epochs * n_train, desc="fig3a", unit="ex") as bar:
        # runs outermost, so a partial run file holds every arm
        for k in range(runs):
            for arm in arms:
                if (arm, k) in done:
                    bar.update(epochs * n_train)
                    continue
                rule, sparsity = ARMS[arm]
                sparsity = net_p["sparse_fraction"] if sparsity else 0.0
                net = RateNet.init(sizes, seeded(seed, WEIGHTS, k), hidden="logistic", output="logistic",
                                   init_scale=net_p["init_scale"], feedback_scale=net_p["feedback_scale"],
                                   bias=True, sparsity=sparsity, direct_feedback=(rule == "dfa"),
                                   feedback_rng=seeded(seed, FEEDBACK, k))
                first_epoch = 0
                if resumed is not None and resumed.current == (arm, k):
                    first_epoch = resumed.restore(net)
                    ctx.log(f"resuming run {k} {arm} after epoch {first_epoch}")
                    bar.update(first_epoch * n_train)
                prefix = f"{arm}/seed{k}"
                error, angle = _train_run(out, prefix, net, rule, X, Y, labels, X_test, test_labels, n_check,
                                          range(first_epoch, epochs), train_p, eval_interval, block,
                                          (seed, STREAM, k), bar,
                                          on_epoch=lambda e, net=net, arm=arm, k=k: ckpt.save(out, net, arm, k, e),
                                          log=ctx.log)
                done[(arm, k)] = (error, angle)
                ckpt.save(out, None, arm, k, epochs)
                ctx.log(f"run {k} {arm}: test error {100 * error:.2f}% after {epochs} epochs")
    out.put("final_test_error", np.array([[done[(a, k)][0] for k in range(runs)] for a in arms]),
            attrs={"arms": list(arms)})
    rows = []
    for arm in arms:
        e = 100 * np.array([done[(arm, k)][0] for k in range(runs)])
        row = {"arm": arm, "runs": len(e), "epochs": epochs, "test_error_%_mean": float(e.mean()),
               "test_error_%_sd": float(e.std(ddof=1)) if len(e) > 1 else 0.0,
               "min": float(e.min()), "max": float(e.max())}
        a = np.array([done[(arm, k)][1] for k in range(runs)], float)
        if np.isfinite(a).any():
            row["angle_delta_final"] = float(np.nanmean(a))
        rows.append(row)
    return rows


def _train_run(out, prefix, net, rule, X, Y, labels, X_test, test_labels, n_check, epoch_range, train_p,
               eval_interval, block, order_seed, bar, on_epoch, log=None):
    """Train one net over ``epoch_range``; return its final test error and last block's mean angle.

    Epoch e visits the images in the order seeded(*order_seed, e), so a resumed run sees exactly
    the images it would have seen.
    """
    n_train = X.shape[0]
    record = rule in _rate.ALIGNING_RULES
    scratch = Scratch.for_net(net)
    every = train_p["angle_sample_every"]
    seen = epoch_range.start * n_train
    last_angle = float("nan")

    def evaluate():
        out.append(f"{prefix}/examples_seen", seen)
        out.append(f"{prefix}/epoch", seen / n_train)
        err = metrics.classification_error(net, X_test, test_labels)
        out.append(f"{prefix}/test_error", err)
        if n_check:
            out.append(f"{prefix}/train_error", metrics.classification_error(net, X[:n_check], labels[:n_check]))
        out.flush()
        return err

    error = evaluate() if epoch_range.start == 0 else metrics.classification_error(net, X_test, test_labels)
    for epoch in epoch_range:
        t_epoch = time.perf_counter()
        order = seeded(*order_seed, epoch).permutation(n_train)
        next_eval = eval_interval
        for start in range(0, n_train, block):
            idx = order[start:start + block]
            try:
                angles = train(net, X, Y, rule, train_p["eta"], decay=train_p["decay"], order=idx,
                               record_angle=record, scratch=scratch, examples_before=seen)
            finally:
                out.flush()
            if record:
                append_block(out, f"{prefix}/angle_delta", angles[::every])
                append_block(out, f"{prefix}/angle_delta_examples_seen", seen + 1 + np.arange(0, idx.size, every))
                last_angle = float(np.nanmean(angles))
                x = {"x": "angle_block_examples_seen"}
                out.append(f"{prefix}/angle_block_examples_seen", seen + idx.size)
                out.append(f"{prefix}/angle_delta_mean", last_angle, x)
                out.append(f"{prefix}/angle_delta_std", float(np.nanstd(angles)), x)
            seen += idx.size
            bar.update(idx.size)
            if start + idx.size >= next_eval or start + idx.size == n_train:
                error = evaluate()
                next_eval += eval_interval
        on_epoch(epoch + 1)
        if log is not None:
            per_epoch = time.perf_counter() - t_epoch
            left = epoch_range.stop - epoch - 1
            log(f"{prefix} epoch {epoch + 1}/{epoch_range.stop}: test error {100 * error:.2f}%, "
                f"{per_epoch:.1f} s per epoch, {left * per_epoch / 60:.1f} min left in this run")
    if net.W_mask is not None:
        out.put(f"{prefix.replace('/', '_')}_mask_violations",
                np.array([int(np.count_nonzero(w[m == 0])) for w, m in zip(net.W, net.W_mask)]))
    return error, last_angle


# parameters a resumed run must share with the run that wrote the checkpoint (runs and arms may
# change: resuming a finished 5-run file with runs = 20 adds runs 5..19)
_MUST_MATCH = ("seed", "network", "data.train_examples", "data.test_examples", "data.train_error_examples",
               "train.epochs", "train.eta", "train.decay", "train.evals_per_epoch", "train.angle_block",
               "train.angle_sample_every")


def _pick(params, key):
    for part in key.split("."):
        params = params[part]
    return params


class Checkpoint:
    """The state of an interrupted fig3a run, written after every epoch beside the run file.

    Holds the finished (arm, run) pairs with their results, the weights of the pair in training
    and how many epochs it has done, and the length of every metric then, so a resumed run copies
    the metrics written so far into its new run file and goes on from there.
    """

    def __init__(self, path, params, done):
        self.path, self.params, self.done = path, params, done
        self.current = None
        self.epochs_done = 0
        self.arrays = {}

    def save(self, out, net, arm, k, epochs_done):
        tmp = self.path + ".part"
        try:
            with h5py.File(tmp, "w") as h5:
                h5.attrs["params"] = json.dumps(self.params, sort_keys=True)
                h5.attrs["source"] = os.path.abspath(out.path)
                h5.attrs["done"] = json.dumps([[a, r, e, None if not np.isfinite(g) else g]
                                               for (a, r), (e, g) in self.done.items()])
                if net is not None:
                    h5.attrs["current"] = json.dumps([arm, k, epochs_done])
                    for name, arrays in (("W", net.W), ("b", net.b), ("B", net.B), ("W_mask", net.W_mask or [])):
                        for l, a in enumerate(arrays):
                            h5[f"{name}{l}"] = a
                lengths = {}
                out.h5["metrics"].visititems(
                    lambda name, obj: lengths.__setitem__(name, obj.shape[0]) if isinstance(obj, h5py.Dataset) else None)
                h5.attrs["metric_lengths"] = json.dumps(lengths)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write the checkpoint ({exc}); free disk space or choose "
                              f"another --out") from None

    @classmethod
    def load(cls, path, params, out) -> "Checkpoint":
        try:
            h5 = h5py.File(path, "r")
        except OSError as exc:
            raise ConfigError(f"--resume {path}: cannot read the checkpoint ({exc}); give the .ckpt.h5 file "
                              f"written beside an earlier fig3a run file") from None
        with h5:
            old = json.loads(h5.attrs["params"])
            for key in _MUST_MATCH:
                if _pick(old, key) != _pick(params, key):
                    raise ConfigError(f"--resume {path}: key '{key}' was {_pick(old, key)!r} in the checkpointed "
                                      f"run, not {_pick(params, key)!r}; resume with the same model file")
            ckpt = cls(path, params, {(a, r): (e, np.nan if g is None else g)
                                      for a, r, e, g in json.loads(h5.attrs["done"])})
            if "current" in h5.attrs:
                arm, k, ckpt.epochs_done = json.loads(h5.attrs["current"])
                ckpt.current = (arm, k)
                ckpt.arrays = {name: h5[name][()] for name in h5}
            lengths = json.loads(h5.attrs["metric_lengths"])
            source = h5.attrs["source"]
        _copy_metrics(source, lengths, out)
        return ckpt

    def restore(self, net) -> int:
        """Put the checkpointed weights into ``net``; return the epochs already done."""
        net.W = [np.asfortranarray(self.arrays[f"W{l}"]) for l in range(net.n_layers)]
        net.b = [self.arrays[f"b{l}"] for l in range(net.n_layers)]
        net.B = [np.ascontiguousarray(self.arrays[f"B{l}"]) for l in range(net.n_layers - 1)]
        if net.W_mask is not None:
            net.W_mask = [np.asfortranarray(self.arrays[f"W_mask{l}"]) for l in range(net.n_layers)]
        return self.epochs_done


def _copy_metrics(source, lengths, out):
    """Copy /metrics of the checkpointed run file, each dataset cut to its length at the checkpoint."""
    if not os.path.exists(source):
        raise DataError(f"--resume: the run file {source} that wrote the checkpoint is gone; its metrics are "
                        f"needed to continue")
    with h5py.File(source, "r") as src:
        for name, n in lengths.items():
            ds = src["metrics"][name]
            attrs = dict(ds.attrs)
            values = ds[:n]
            if values.ndim == 1:
                append_block(out, name, values, attrs)
            else:
                for v in values:
                    out.append(name, v, attrs)
