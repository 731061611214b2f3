"""Experiment "spiking": train the continuous-time spiking network of Figure 4 and test it at intervals.

Model file tables: [network] (built from SpikingParams' fields: spikefa.spiking.params), [data],
[train] (its network keys, steps_per_image to shuffle, are SpikingParams' fields too) and [record]
(recorders, spikefa.record). A SpikingParams field has the same name in the model file.
Writes /metrics/<arm>/examples_seen, test_error, train_error, images_per_s and eta (and
validation_error with data.validation_size) at every evaluation, and the last evaluation's
confusion matrix and per-layer firing rates as /results/<arm>/confusion and
/results/<arm>/firing_rate (SpikingNetwork.evaluate), saves a checkpoint (ctx.checkpoint_path())
at every evaluation, every train.checkpoint_every images and when stopped by Ctrl-C or SIGTERM
(between two blocks of steps, so resuming redoes nothing), and continues from one with --resume:
the resumed run computes exactly what the run never stopped would have, learning-rate schedule
included.

Checkpoints are written only for runs long enough to need one: a run expected to take less than
train.checkpoint_min_s seconds (60 by default, measured on its own first images) writes none, since
running it again costs less than the checkpoint (about 53 MB for the Figure 4 network). A resumed
run, and a run that has written one already, always writes them.

The learning-rate schedule (train.eta_drop_*, not in the paper) multiplies eta by eta_drop_factor
when the error it watches has not fallen by eta_drop_min_delta for eta_drop_patience scheduled
evaluations. It watches the validation error (the last data.validation_size training images, held
out from training) when there is one, else the test error; the summary's ``eta_decided_on`` says
which. With train.eta_drop_at it is fixed instead: eta is multiplied by eta_drop_factor once
training has seen each of those image counts, whatever the errors (a schedule found on validation
images, then used to train on every training image). With train.stop_at_eta, training ends at the
evaluation that lowers eta below it.

With train.test_steps_choices (not in the paper either), a finished run then tests the validation
images at each candidate M and the test set once, at the M they chose
(spikefa.spiking.test_steps_choice): /results/<arm>/test_steps_choice and the summary's
chosen_test_steps, chosen_validation_error and chosen_test_error.
"""

from __future__ import annotations

import time

import numpy as np

from .. import stop
from ..config import Field
from ..errors import ConfigError, DataError
from ..spiking import SpikingNetwork, SpikingParams, load_checkpoint, save_checkpoint
from ..spiking.params import MAX_STEPS, check_network, network_schema, param_field
from ..spiking.test_steps_choice import choose_test_steps

try:
    from ..record import RECORD_SCHEMA, build_recorders
except ImportError:  # recorders are optional for this experiment
    RECORD_SCHEMA, build_recorders = {}, None

DOC = "continuous-time spiking network learning by feedback alignment (Figure 4)"

MAX_IMAGES = 10**9   # a year at 30 images/s; larger is a typo, not a plan

SCHEMA = {
    "seed": param_field("seed"),
    "network": network_schema(),
    "data": {
        "dataset": Field("mnist", "str", "mnist (needs the four IDX files) or synthetic (generated)",
                         choices=("mnist", "synthetic")),
        "path": Field(None, "str", "folder with the MNIST files (default: $SPIKEFA_MNIST, then data/mnist)",
                      optional=True),
        "train_size": Field(0, "int", "use only the first n training images (0: all)", min=0, max=MAX_IMAGES),
        "test_size": Field(0, "int", "use only the first n test images (0: all)", min=0, max=MAX_IMAGES),
        "validation_size": Field(0, "int", "hold the last n training images (of train_size) out of training; "
                                 "their error is written at every evaluation and is what the eta schedule "
                                 "decides on (0: none; the schedule then decides on the test error)",
                                 min=0, max=MAX_IMAGES),
        "synthetic_grid": Field(12, "int", "synthetic images are grid x grid pixels", min=6, max=100),
        "synthetic_train": Field(5000, "int", "synthetic training samples", min=10, max=1_000_000),
        "synthetic_test": Field(1000, "int", "synthetic test samples", min=10, max=1_000_000),
    },
    "train": {
        "images": Field(60000, "int", "training images presented in all (one stream counts S per slot)", min=1,
                        max=MAX_IMAGES),
        "steps_per_image": param_field("steps_per_image"),
        "test_steps": param_field("test_steps"),
        "test_readout": param_field("test_readout"),
        "test_carry": param_field("test_carry"),
        "test_steps_choices": Field([], "list[int]", "not in the paper: after training, test the validation set "
                                    "(data.validation_size) at each of these test steps M and report the final "
                                    "test error at the M with the lowest validation error (the smallest M on a "
                                    "tie); the test set decides nothing (empty: report train.test_steps only)",
                                    min=1, max=MAX_STEPS),
        "eta_drop_factor": Field(1.0, "float", "not in the paper: multiply eta by this factor when the watched "
                                 "error (validation if data.validation_size, else test) has not fallen for "
                                 "eta_drop_patience evaluations (1: constant eta)", min=0, max=1, min_exclusive=True),
        "eta_drop_at": Field([], "list[int]", "not in the paper: a fixed schedule instead of the plateau rule: "
                             "multiply eta by eta_drop_factor once training has seen each of these image counts "
                             "(in rising order), whatever the errors; empty: the plateau rule", min=1, max=MAX_IMAGES),
        "eta_drop_patience": Field(3, "int", "scheduled evaluations without an improvement of at least "
                                   "eta_drop_min_delta before eta drops", min=1, max=MAX_IMAGES),
        "eta_drop_min_delta": Field(0.0, "float", "how much the watched error (a fraction) must fall below its "
                                    "best to count as an improvement", min=0, max=1),
        "stop_at_eta": Field(0.0, "float", "not in the paper: end training early, with its final evaluation, once "
                             "the eta schedule has lowered eta below this (the watched error has stopped falling "
                             "at every rate tried down to here); 0: train all train.images. Recording windows are "
                             "placed by train.images: one past the stop (\"late\") is not reached", min=0),
        "eval_every": Field(10000, "int", "images between test-set evaluations", min=1, max=MAX_IMAGES),
        "checkpoint_every": Field(0, "int", "images between checkpoints besides those at evaluations "
                                  "(0: only at evaluations)", min=0, max=MAX_IMAGES),
        "checkpoint_min_s": Field(60.0, "float", "write checkpoints only when the whole run is expected to take "
                                  "at least this many seconds (0: always)", min=0),
        "shuffle": param_field("shuffle"),
        "arm": Field(None, "str", "name of the metrics group (default: from the feedback pathway, "
                     "e.g. fa, bp, direct, shallow, with _sparse and _rate appended)", optional=True),
    },
    "record": RECORD_SCHEMA,
}


def check(params: dict, origin) -> None:
    """Rules between keys, before any work: the output layer against units_per_class, the size of
    the network, and the recorders against its layers and streams."""
    check_network(params["network"], origin)
    t = params["train"]
    if t["eta_drop_at"]:
        at = t["eta_drop_at"]
        if t["eta_drop_factor"] >= 1:
            raise ConfigError(f"{origin('train.eta_drop_at')}: key 'train.eta_drop_at' drops eta by "
                              f"train.eta_drop_factor, which is 1 (no drop); set it below 1, e.g. 0.3")
        if any(b <= a for a, b in zip(at, at[1:])):
            raise ConfigError(f"{origin('train.eta_drop_at')}: key 'train.eta_drop_at' = {at} must rise; "
                              f"list the image counts in order, each once")
    if params["train"]["test_steps_choices"] and not params["data"]["validation_size"]:
        raise ConfigError(f"{origin('train.test_steps_choices')}: key 'train.test_steps_choices' needs held-out "
                          f"validation images to choose on; set data.validation_size (e.g. 10000) or leave it empty")
    if build_recorders is not None and params["record"].get("recorders"):
        from ..record import parse_record_params, resolve_recorders

        streams = params["network"]["streams"]
        recorders, _ = parse_record_params(params["record"], origin("record.recorders"))
        # windows count the images of one stream, as build_recorders does when the run starts
        resolve_recorders(recorders, list(params["network"]["sizes"]), n_streams=streams,
                          total_images=-(-params["train"]["images"] // streams), source=origin("record.recorders"))


def arm_name(params: dict) -> str:
    net, train = params["network"], params["train"]
    if train["arm"]:
        return train["arm"]
    name = {"none": "shallow"}.get(net["feedback"], net["feedback"])
    if net["sparse"] > 0:
        name += "_sparse"
    if net["mode"] == "rate":
        name += "_rate"
    return name


def load_data(params: dict):
    """(train images, train labels, test images, test labels) as float32 in [0, 1] and int64."""
    d, sizes = params["data"], params["network"]["sizes"]
    if d["dataset"] == "synthetic":
        from ..data import synthetic

        n_classes = sizes[-1] // params["network"]["units_per_class"]
        kw = dict(n_classes=n_classes, size=d["synthetic_grid"], seed=params["seed"])
        X, y = synthetic.load("train", d["synthetic_train"], **kw)
        Xt, yt = synthetic.load("test", d["synthetic_test"], **kw)
    else:
        from ..data import mnist

        X, y = mnist.load("train", d["path"])
        Xt, yt = mnist.load("test", d["path"])
        X, Xt = mnist.as_float(X), mnist.as_float(Xt)
        y, yt = y.astype(np.int64), yt.astype(np.int64)
    if d["train_size"]:
        X, y = X[:d["train_size"]], y[:d["train_size"]]
    if d["test_size"]:
        Xt, yt = Xt[:d["test_size"]], yt[:d["test_size"]]
    if d.get("validation_size", 0) >= len(X):
        raise ConfigError(f"data.validation_size = {d['validation_size']} holds out every one of the {len(X)} "
                          f"training images; hold out fewer (or raise data.train_size)")
    if X.shape[1] != sizes[0]:
        raise ConfigError(f"network.sizes starts with {sizes[0]} input units but {d['dataset']} images have "
                          f"{X.shape[1]} pixels; set the first entry of network.sizes to {X.shape[1]}")
    n_classes = sizes[-1] // params["network"]["units_per_class"]
    if int(max(y.max(), yt.max())) >= n_classes:
        raise DataError(f"{d['dataset']} has {int(max(y.max(), yt.max())) + 1} classes but the network "
                        f"votes for {n_classes}; make network.sizes[-1] = classes * units_per_class")
    return X, y, Xt, yt


def split_validation(params: dict, X, y):
    """(training images, labels, validation images, labels): the last data.validation_size
    training images held out (validation None when it is 0)."""
    n = params["data"].get("validation_size", 0)
    if not n:
        return X, y, None, None
    return X[:-n], y[:-n], X[-n:], y[-n:]


def network_params(params: dict) -> SpikingParams:
    """The network a resolved model describes: each SpikingParams field from its own key."""
    return SpikingParams.from_model(params)


# may differ between a checkpoint and its resumption: how the same network is computed
_RUNTIME_KEYS = ("backend", "threads", "test_streams", "cpu_kernel")
# may differ too: how the network is tested, which never changes its training
_TEST_KEYS = ("test_steps", "test_readout", "test_carry")


def _resume(path: str, wanted: SpikingParams, log=None) -> tuple[SpikingNetwork, dict]:
    net, extra = load_checkpoint(path, backend=wanted.backend)
    saved, asked = net.params.as_dict(), wanted.as_dict()
    diff = [k for k in asked if k not in _RUNTIME_KEYS + _TEST_KEYS and saved.get(k) != asked[k]]
    if diff:
        k = diff[0]
        raise ConfigError(f"--resume {path}: the checkpoint has {k} = {saved.get(k)!r} but the model asks for "
                          f"{asked[k]!r}; resume with the model file that wrote the checkpoint")
    if any(saved[k] != asked[k] for k in _RUNTIME_KEYS):
        net = _with_runtime(net, wanted)
    tested = [k for k in _TEST_KEYS if saved[k] != asked[k]]
    if tested:
        net.params = net.params.replace(**{k: asked[k] for k in _TEST_KEYS})
        if log is not None:
            log("testing from here on with " + ", ".join(f"{k} = {asked[k]!r} (was {saved[k]!r})" for k in tested))
    return net, extra


def _with_runtime(net: SpikingNetwork, wanted: SpikingParams) -> SpikingNetwork:
    """The same network with the model's backend, threads, test streams and cpu kernel."""
    fresh = SpikingNetwork(net.params.replace(backend=wanted.backend, threads=wanted.threads,
                                              test_streams=wanted.test_streams, cpu_kernel=wanted.cpu_kernel))
    fresh.load_state_dict(net.state_dict())
    return fresh


def run(params: dict, out, ctx) -> list[dict]:
    p = network_params(params)
    t = params["train"]
    arm = arm_name(params)
    X, y, Xt, yt = load_data(params)
    X, y, Xv, yv = split_validation(params, X, y)
    metric_names = ("examples_seen", "test_error", "train_error", "images_per_s", "eta")
    if Xv is not None:
        metric_names += ("validation_error",)
    # the learning-rate schedule (not in the paper): what it watches, its best error and the
    # scheduled evaluations since then
    drop = t["eta_drop_factor"] < 1
    fixed = list(t["eta_drop_at"])
    watched = "-" if not drop else ("fixed" if fixed else "validation" if Xv is not None else "test")
    schedule = {"best": None, "since_best": 0}
    history = []
    if ctx.resume:
        net, extra = _resume(ctx.resume, p, log=ctx.log)
        _check_work_left(ctx.resume, net, extra, t["images"], ctx.quick)
        names = extra.get("history_names", metric_names[:4])    # older checkpoints: the first four
        history = [dict(zip(names, row)) for row in extra.get("history", [])]
        for row in history:   # the curve so far goes into this run file too
            row.setdefault("eta", p.eta)
            row.setdefault("validation_error", float("nan"))
            for name in metric_names:
                out.append(f"{arm}/{name}", row[name])
        schedule.update(extra.get("eta_schedule", {}))
        ctx.log(f"resuming from {ctx.resume} at {net.images_seen} images, step {net.step}, eta {net.eta:g}")
    else:
        net = SpikingNetwork(p)
    if drop and fixed:
        ctx.log(f"eta schedule (not in the paper): x{t['eta_drop_factor']:g} at {', '.join(map(str, fixed))} images")
    elif drop:
        ctx.log(f"eta schedule (not in the paper): x{t['eta_drop_factor']:g} after {t['eta_drop_patience']} "
                f"evaluations without a fall of {t['eta_drop_min_delta']:g} in the {watched} error")
    recording = None
    for name in metric_names:   # before recorders start SWMR, so evaluations reach the file live
        out.declare_metric(f"{arm}/{name}")
    if build_recorders is not None and params["record"].get("recorders"):
        continues = None
        if ctx.resume and ctx.resume.endswith(".ckpt.h5"):   # the run file that wrote the checkpoint
            continues = ctx.resume[:-len(".ckpt.h5")] + ".h5"
        recording = build_recorders(params["record"], net, out, model_params=params, total_images=t["images"],
                                    resume_step=True if ctx.resume else None, continues=continues, log=ctx.log)
    total = t["images"]
    ckpt_path = ctx.checkpoint_path()
    every = t["eval_every"]
    window_errors, window_images = 0, 0
    next_eval = (net.images_seen // every + 1) * every    # images at the next scheduled evaluation
    final_done = False
    if ctx.resume:
        window_errors, window_images = extra.get("window_errors", 0), extra.get("window_images", 0)
        # a checkpoint written when an evaluation was interrupted has it still to do
        next_eval = extra.get("next_eval", next_eval)
        # one written after the final evaluation (a stop that came as the run finished) repeats it only
        # when that evaluation is not already the last row of the curve (a scheduled one is)
        final_done = (not extra.get("final_pending", True) and bool(history)
                      and history[-1]["examples_seen"] == net.images_seen)
    final = history[-1] if history else None
    last_train_error = float("nan")
    started, images_at_start = time.perf_counter(), net.images_seen
    checkpoints = _CheckpointRule(t["checkpoint_min_s"], resumed=bool(ctx.resume), total=total,
                                  images_at_start=images_at_start)
    bar = ctx.progress(total=total, desc=f"spiking {arm}", unit="img", initial=min(net.images_seen, total))
    choice = None

    def checkpoint():
        if recording is not None:
            recording.flush()   # a checkpoint must not be ahead of the recordings it continues
        if checkpoints.wanted(net.images_seen):
            save_checkpoint(net, ckpt_path, extra={
                "history": [[row[name] for name in metric_names] for row in history],
                "history_names": list(metric_names), "eta_schedule": schedule, "arm": arm,
                "window_errors": window_errors, "window_images": window_images, "next_eval": next_eval,
                "final_pending": (net.images_seen >= total or _eta_spent(net, t)) and not final_done})
            checkpoints.written = True

    def test_block():
        stop.check()

    def on_block(n_images, n_errors):
        nonlocal window_errors, window_images
        window_errors += n_errors
        window_images += n_images
        bar.update(n_images)
        bar.set_postfix(err=f"{window_errors / window_images:.3f}", refresh=False)

    try:
        with stop.polling():
            while True:
                # S streams take images S at a time, so images_seen may step past a boundary
                scheduled = net.images_seen >= next_eval
                ending = net.images_seen >= total or _eta_spent(net, t)
                if scheduled or (ending and not final_done):
                    ev = net.evaluate(Xt, yt, callback=test_block)
                    err = ev.error
                    _put_evaluation(out, arm, ev, net, p)
                    val_err = net.test(Xv, yv, callback=test_block) if Xv is not None else float("nan")
                    last_train_error = window_errors / max(1, window_images)
                    elapsed = time.perf_counter() - started
                    rate = (net.images_seen - images_at_start) / max(elapsed, 1e-9)
                    note = ""
                    if scheduled and drop and not fixed:
                        note = _eta_schedule(net, schedule, val_err if Xv is not None else err, t)
                        if _eta_spent(net, t) and not ending:
                            ending = True
                            note += f"; below train.stop_at_eta = {t['stop_at_eta']:g}: training ends here"
                    # eta: the learning rate training goes on with after this evaluation
                    row = dict(examples_seen=net.images_seen, test_error=err, train_error=last_train_error,
                               images_per_s=rate, eta=net.eta, validation_error=val_err)
                    for name in metric_names:
                        out.append(f"{arm}/{name}", row[name])
                    out.flush()
                    ctx.log(f"{net.images_seen} images: test error {err:.4f}, "
                            + (f"validation error {val_err:.4f}, " if Xv is not None else "")
                            + f"training error {last_train_error:.4f}, {rate:.1f} images/s" + note)
                    final = row
                    if scheduled:
                        # an evaluation only because the run ends here is not part of the schedule that a
                        # resumed run continues (a run never stopped would not have made it)
                        history.append(row)
                        window_errors = window_images = 0
                        next_eval = (net.images_seen // every + 1) * every
                    final_done = ending
                    checkpoint()
                elif net.images_seen > images_at_start or (ending and not checkpoints.written):
                    # a checkpoint_every boundary; or a resumed run that finds everything done leaves
                    # its own checkpoint beside its run file, as the run it continues did
                    checkpoint()
                if ending:
                    break
                boundaries = [total, next_eval] + [m for m in fixed if m > net.images_seen][:1]
                if t["checkpoint_every"]:
                    boundaries.append((net.images_seen // t["checkpoint_every"] + 1) * t["checkpoint_every"])
                net.train(X, y, min(boundaries) - net.images_seen, callback=on_block)
                if drop and fixed:
                    eta = _fixed_eta(p.eta, fixed, t["eta_drop_factor"], net.images_seen)
                    if eta != net.eta:
                        net.eta = eta
                        ctx.log(f"{net.images_seen} images: eta lowered to {eta:g} (train.eta_drop_at)")
            if t["test_steps_choices"]:
                choice = choose_test_steps(net, t["test_steps_choices"], Xv, yv, Xt, yt, callback=test_block)
                _put_choice(out, arm, choice, net)
                ctx.log(f"test steps chosen on the validation set: M = {choice.chosen} of "
                        f"{list(choice.candidates)} (validation errors "
                        + ", ".join(f"{e:.4f}" for e in choice.validation_errors)
                        + f"); test error at M = {choice.chosen}: {choice.test_error:.4f}")
    except stop.Interrupted as exc:
        if exc.at_safe_point:       # between blocks: the network's state is whole
            checkpoint()
        raise
    finally:
        bar.close()
        if recording is not None:
            recording.close()
    elapsed = time.perf_counter() - started
    if final is None:
        final = dict(test_error=float("nan"), train_error=last_train_error, validation_error=float("nan"))
    summary = {"arm": arm, "dataset": params["data"]["dataset"], "mode": p.mode, "backend": p.backend,
               "images": net.images_seen, "steps": net.step, "test_error": final["test_error"],
               "train_error": final["train_error"]}
    if Xv is not None:
        summary["validation_error"] = final["validation_error"]
    if drop:
        summary.update(eta=net.eta, eta_decided_on=watched)
    if t["stop_at_eta"] > 0:
        summary.update(stopped_early=bool(net.images_seen < total))
    if choice is not None:
        summary.update(chosen_test_steps=choice.chosen, chosen_validation_error=choice.validation_error,
                       chosen_test_error=choice.test_error)
    summary.update(images_per_s=(net.images_seen - images_at_start) / max(elapsed, 1e-9),
                   checkpoint=ckpt_path if checkpoints.written else "-")
    return [summary]


def _put_evaluation(out, arm: str, ev, net: SpikingNetwork, p: SpikingParams) -> None:
    """The test set's confusion matrix and each layer's firing rate at this evaluation, as
    /results/<arm>/confusion and /results/<arm>/firing_rate (each evaluation replaces the last)."""
    when = {"examples_seen": int(net.images_seen), "step": int(net.step)}
    out.put(f"{arm}/confusion", ev.confusion, attrs=dict(
        when, meaning="test images by true class (row) and guessed class (column), at the last evaluation",
        test_readout=p.test_readout, test_steps=p.test_steps))
    out.put(f"{arm}/firing_rate", ev.firing_rate, attrs=dict(
        when, meaning="mean spikes per unit per step of each layer (0: the input) over the test set at the "
                      "last evaluation; in rate mode the mean spike probability",
        layers=list(range(len(p.sizes))), layer_sizes=list(p.sizes), test_steps=p.test_steps))


def _put_choice(out, arm: str, choice, net: SpikingNetwork) -> None:
    """/results/<arm>/test_steps_choice: the validation error at each candidate M, and what was kept."""
    out.put(f"{arm}/test_steps_choice", np.asarray(choice.validation_errors, dtype=np.float64), attrs=dict(
        meaning="validation error at each candidate test steps M (train.test_steps_choices), after training; "
                "the test set is tested once, at the M with the lowest",
        candidates=list(choice.candidates), chosen=int(choice.chosen), validation_error=choice.validation_error,
        test_error=choice.test_error, examples_seen=int(net.images_seen), step=int(net.step)))


class _CheckpointRule:
    """Whether to write a checkpoint now: only when the run is long enough to need one (module doc)."""

    def __init__(self, min_s: float, resumed: bool, total: int, images_at_start: int):
        self.min_s, self.total, self.images_at_start = float(min_s), total, images_at_start
        self.written = False
        self.always = resumed or self.min_s <= 0
        self.started = time.perf_counter()

    def wanted(self, images_seen: int) -> bool:
        if self.always or self.written:
            return True
        done = images_seen - self.images_at_start
        if done <= 0:
            return False
        expected_s = (time.perf_counter() - self.started) * (self.total - self.images_at_start) / done
        return expected_s >= self.min_s


def _check_work_left(path: str, net: SpikingNetwork, extra: dict, total: int, quick: bool) -> None:
    """A checkpoint past train.images cannot be resumed to it: say so rather than finish with no result.
    (One at train.images, of a run stopped as it finished, writes the same curve and summary again,
    repeating the final evaluation only when it was not a scheduled one.)"""
    if net.images_seen <= total:
        return
    why = (" (--quick scales train.images down: resume without --quick)" if quick else "")
    raise ConfigError(f"--resume {path}: the checkpoint is at {net.images_seen} images and this run trains "
                      f"{total} (train.images){why}; nothing is left to run: raise train.images, e.g. --set "
                      f"train.images={2 * max(net.images_seen, 1)}")


def _fixed_eta(eta0: float, at: list, factor: float, images_seen: int) -> float:
    """eta of the fixed schedule once training has seen ``images_seen`` images: stateless, so a
    resumed run goes on with the eta a run never stopped would have."""
    return eta0 * factor ** sum(1 for m in at if images_seen >= m)


def _eta_spent(net: SpikingNetwork, t: dict) -> bool:
    """Whether the schedule has lowered eta below train.stop_at_eta, which ends training."""
    return t["stop_at_eta"] > 0 and net.eta < t["stop_at_eta"]


def _eta_schedule(net: SpikingNetwork, schedule: dict, error: float, t: dict) -> str:
    """One scheduled evaluation of the plateau schedule: eta drops by eta_drop_factor after
    eta_drop_patience evaluations in a row without a fall of eta_drop_min_delta below the best
    error so far. Returns a note for the log."""
    best = schedule["best"]
    if best is None or error < best - t["eta_drop_min_delta"]:
        schedule["best"], schedule["since_best"] = float(error), 0
        return ""
    schedule["since_best"] += 1
    if schedule["since_best"] < t["eta_drop_patience"]:
        return ""
    schedule["since_best"] = 0
    net.eta = net.eta * t["eta_drop_factor"]
    return f"; eta lowered to {net.eta:g}"
