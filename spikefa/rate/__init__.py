"""Rate networks and their learning rules (Figures 2, 3 and 5 of Lillicrap et al. 2016).

  network   RateNet: layered nets (linear/tanh/logistic), feedback matrices, sparse masks, freezing
  rules     the rules in numpy, the specification: bp, fa, fa_fprime, dfa, shallow, node_perturbation
  kernels   the Numba per-example kernel, checked against rules
  train     train(net, X, Y, rule, eta, ...): per-example (Numba) or mini-batch (numpy) updates
  metrics   NSE, classification error, angles (delta, W vs B^T, per unit, W vs pinv(B))
  tasks     linear teacher, deep tanh teacher, quadratic target
"""

from .metrics import (angle, angle_units, angle_W_BT, angle_W_pinvB, classification_error,
                      delta_angles, nse, sliding_stats)
from .network import ACTIVATIONS, RateNet
from .rules import RULES, descent_directions, train_step
from .tasks import DeepTeacher, LinearTeacher, QuadraticTarget
from .train import Scratch, draw_noise, train

__all__ = ["ACTIVATIONS", "RULES", "RateNet", "Scratch", "train", "train_step", "descent_directions",
           "draw_noise", "nse", "classification_error", "angle", "angle_W_BT", "angle_units",
           "angle_W_pinvB", "delta_angles", "sliding_stats", "LinearTeacher", "DeepTeacher",
           "QuadraticTarget"]
