"""Experiment "compare": the spiking network against its rate limit, and across tau.

Trains the spiking network (network.mode is ignored) and the same network in rate mode from the
same initial weights on the same image stream, evaluating both every train.eval_every images (and
before training): test error, the distance between the spiking network's trial-averaged activity
and the rate network's for the same weights and input, and the angles between their weight
updates (spikefa.compare explains each measurement). Then the same, shorter, for every tau in
compare.taus, to show where the rate model stops describing the spiking network.

Writes /metrics/spiking/* and /metrics/rate/* (examples_seen, test_error), /metrics/compare/*
(examples_seen, activity_distance, activity_resolution, update_angle, drift_angle: one value per
layer) and /results/tau_sweep/* (tau, spiking_error, rate_error and the same per-layer values
after training). Summary: one row per tau.
"""

from __future__ import annotations

import numpy as np

from ..compare import Evaluation, Pair
from ..config import Field, load_model, read_toml
from ..errors import ConfigError
from .spiking import SCHEMA as SPIKING_SCHEMA
from .spiking import load_data, network_params
from ..spiking.params import check_network

DOC = "spiking network vs its rate limit: learning, activity distance, update angles, and across tau"

_TRAIN_KEYS = ("images", "steps_per_image", "test_steps", "eval_every", "shuffle")

SCHEMA = {
    "seed": SPIKING_SCHEMA["seed"],
    "network": {k: v for k, v in SPIKING_SCHEMA["network"].items() if k != "mode"},
    "data": {k: v for k, v in SPIKING_SCHEMA["data"].items() if k != "validation_size"},
    "train": {k: SPIKING_SCHEMA["train"][k] for k in _TRAIN_KEYS},
    "compare": {
        "trials": Field(20, "int", "spiking trials averaged (parallel streams) for the activity distance and "
                        "update angle", min=2, max=4096),
        "probe_images": Field(10, "int", "test images the activity distance and update angle are measured on",
                              min=1, max=10_000),
        "taus": Field([0.3, 0.6, 0.9, 1.0], "list[float]", "tau values of the sweep (empty: no sweep)",
                      min=0, max=1, min_exclusive=True, max_len=100),
        "sweep_images": Field(0, "int", "training images per tau in the sweep (0: train.images)", min=0,
                              max=SPIKING_SCHEMA["train"]["images"].max),
        "tolerance": Field(0.02, "float", "largest test-error gap (fraction) at which the rate model still "
                           "counts as describing the spiking network", min=0, max=1),
    },
}

ARMS = ("spiking", "rate")


def _probe(params, Xt, yt):
    n = min(params["compare"]["probe_images"], Xt.shape[0])
    return Xt[:n], yt[:n]


def _train_pair(p, X, y, Xt, yt, probe, trials, images, eval_every, bar, on_eval=None) -> list[Evaluation]:
    """Train a pair for ``images`` images, evaluating before and every ``eval_every`` images."""
    pair = Pair(p)
    evaluations = [pair.evaluate(Xt, yt, *probe, trials)]
    if on_eval:
        on_eval(evaluations[-1])
    while pair.spiking.images_seen < images:
        n = min(eval_every - pair.spiking.images_seen % eval_every, images - pair.spiking.images_seen)
        pair.train(X, y, n, callback=lambda k, _errors: bar.update(k))
        evaluations.append(pair.evaluate(Xt, yt, *probe, trials))
        if on_eval:
            on_eval(evaluations[-1])
    return evaluations


def check(params: dict, origin) -> None:
    check_network(params["network"], origin)


def _mean_finite(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def describes(spiking_error: float, rate_error: float, tolerance: float, chance: float) -> str:
    """Whether the rate model describes the spiking network by test error: "yes", "no", or "n/a"
    when both sit at chance, where equal errors say nothing about the two networks."""
    floor = chance - tolerance
    if spiking_error >= floor and rate_error >= floor:
        return "n/a (both at chance)"
    return "yes" if abs(spiking_error - rate_error) <= tolerance else "no"


def _row(tau, e: Evaluation, tolerance, main: bool, chance: float) -> dict:
    gap = e.spiking_error - e.rate_error
    return {"tau": tau, "run": "main" if main else "sweep", "images": e.images,
            "spiking_error": e.spiking_error, "rate_error": e.rate_error, "error_gap": gap,
            "activity_distance": float(np.mean(e.activity_distance)),
            "distance_resolution": float(np.mean(e.activity_resolution)),
            "update_angle_deg": _mean_finite(e.update_angle),
            "drift_angle_deg": _mean_finite(e.drift_angle),
            "rate_describes": describes(e.spiking_error, e.rate_error, tolerance, chance)}


def run(params: dict, out, ctx) -> list[dict]:
    p = network_params(params).replace(mode="spiking")
    t, c = params["train"], params["compare"]
    X, y, Xt, yt = load_data(params)
    probe = _probe(params, Xt, yt)
    trials = c["trials"]
    sweep_images = c["sweep_images"] or t["images"]
    sweep = [tau for tau in c["taus"] if not (tau == p.tau and sweep_images == t["images"])]
    bar = ctx.progress(total=t["images"] + sweep_images * len(sweep), desc="compare", unit="img")
    # every metric exists before SWMR starts, so `spikefa plot` can read the run while it trains
    for arm in ARMS:
        out.declare_metric(f"{arm}/examples_seen")
        out.declare_metric(f"{arm}/test_error")
    out.declare_metric("compare/examples_seen")
    for name in ("activity_distance", "activity_resolution", "update_angle", "drift_angle"):
        out.declare_metric(f"compare/{name}", shape=(p.n_layers,))
    out.start_swmr()

    def record(e: Evaluation):
        for arm, err in (("spiking", e.spiking_error), ("rate", e.rate_error)):
            out.append(f"{arm}/examples_seen", e.images)
            out.append(f"{arm}/test_error", err)
        out.append("compare/examples_seen", e.images)
        out.append("compare/activity_distance", e.activity_distance)
        out.append("compare/activity_resolution", e.activity_resolution)
        out.append("compare/update_angle", e.update_angle)
        out.append("compare/drift_angle", e.drift_angle)
        out.flush()
        ctx.log(f"tau {p.tau:g}, {e.images} images: test error spiking {e.spiking_error:.4f}, rate "
                f"{e.rate_error:.4f}; activity distance {np.round(e.activity_distance, 4).tolist()}")

    try:
        main = _train_pair(p, X, y, Xt, yt, probe, trials, t["images"], t["eval_every"], bar, record)[-1]
        finals = {p.tau: main}
        for tau in sweep:
            finals[tau] = _train_pair(p.replace(tau=tau), X, y, Xt, yt, probe, trials, sweep_images,
                                      sweep_images, bar)[-1]
            ctx.log(f"tau {tau:g}: test error spiking {finals[tau].spiking_error:.4f}, rate "
                    f"{finals[tau].rate_error:.4f}")
    finally:
        bar.close()

    taus = sorted(set(c["taus"]) | {p.tau})
    in_sweep = [tau for tau in taus if tau in c["taus"]]
    if in_sweep:
        es = [finals[tau] for tau in in_sweep]
        out.put("tau_sweep/tau", np.array(in_sweep), attrs={"images": sweep_images, "main_tau": p.tau})
        out.put("tau_sweep/spiking_error", np.array([e.spiking_error for e in es]))
        out.put("tau_sweep/rate_error", np.array([e.rate_error for e in es]))
        for name in ("activity_distance", "activity_resolution", "update_angle", "drift_angle"):
            out.put(f"tau_sweep/{name}", np.stack([getattr(e, name) for e in es]))
        out.put("tau_sweep/tolerance", c["tolerance"])
    chance = 1.0 - 1.0 / p.n_classes
    rows = [_row(p.tau, main, c["tolerance"], True, chance)]
    rows += [_row(tau, finals[tau], c["tolerance"], False, chance) for tau in in_sweep if finals[tau] is not main]
    return rows


def _from_spiking(data: dict) -> dict:
    """A "spiking" model file's tables as a "compare" model (the keys compare does not take dropped)."""
    def tables(d):
        out = {}
        if "network" in d:
            out["network"] = {k: v for k, v in d["network"].items() if k != "mode"}
        if "data" in d:
            out["data"] = dict(d["data"])
        if "train" in d:
            out["train"] = {k: v for k, v in d["train"].items() if k in _TRAIN_KEYS}
        return out

    raw = {"experiment": "compare", "title": f"{data.get('title', 'spiking network')}: spiking vs rate limit",
           **tables(data)}
    if "seed" in data:
        raw["seed"] = data["seed"]
    if isinstance(data.get("quick"), dict):
        raw["quick"] = tables(data["quick"])
    return raw


def parse_taus(text: str) -> list[float]:
    """"0.3,0.6,1" -> [0.3, 0.6, 1.0]; "" -> [] (no sweep)."""
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--taus {text!r}: expected comma-separated numbers in (0, 1], e.g. 0.3,0.6,0.9,1.0") from None


def load_compare_model(path: str, *, quick=False, seed=None, overrides=None, taus: str | None = None):
    """The "compare" model for ``path``: a compare model file, or a spiking one converted."""
    data = read_toml(path)
    if data.get("experiment") == "spiking":
        data = _from_spiking(data)
    elif data.get("experiment") != "compare":
        raise ConfigError(f"{path}: experiment {data.get('experiment')!r} cannot be compared with its rate limit; "
                          f"give a model file of experiment 'compare' or 'spiking' (e.g. models/compare_rate_spiking.toml)")
    if taus is not None:
        data.setdefault("compare", {})["taus"] = parse_taus(taus)
    from .. import experiments

    return load_model(path, raw=data, quick=quick, seed=seed, overrides=overrides,
                      catalogue=experiments)
