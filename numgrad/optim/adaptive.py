"""RMSprop, Adagrad, Adadelta, Adamax, RAdam and NAdam: ``torch.optim.RMSprop`` / ``Adagrad``
/ ``Adadelta`` / ``Adamax`` / ``RAdam`` / ``NAdam``.

Each step is one update op per param group (``rmsprop_update``, ``adagrad_update``,
``adadelta_update``, ``adamax_update``, ``radam_update``, ``nadam_update`` in
``numgrad/ops/optim.py``), as for SGD and Adam.
"""

from __future__ import annotations

import numpy as np

from .adam import _pair
from .optimizer import Optimizer, _check_number, _counted_zeros, _state_like


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``), same defaults and update.

    For each parameter with a gradient ``g`` (negated when ``maximize``)::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - m * m) + eps   where m = m.lerp(g, 1 - alpha)   if centered
        avg = sqrt(v) + eps                                             otherwise
        b = momentum * b + g / avg;  p = p - lr * b                     if momentum > 0
        p = p - lr * g / avg                                            otherwise

    Args:
        params: tensors or parameter-group dicts to optimize.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant (default 0.99).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalize by an estimate of the gradient's variance (default False).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``"step"`` (a float32 0-d tensor), ``"square_avg"``, and
    ``"momentum_buffer"`` (momentum > 0) and ``"grad_avg"`` (centered).
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0,
        momentum=0,
        centered=False,
        *,
        maximize=False,
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_hparams(self, hp, where):
        _check_number(hp["lr"], "Invalid learning rate", where)
        _check_number(hp["eps"], "Invalid epsilon value", where)
        _check_number(hp["momentum"], "Invalid momentum value", where)
        _check_number(hp["weight_decay"], "Invalid weight_decay value", where)
        _check_number(hp["alpha"], "Invalid alpha value", where)

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # op rmsprop_update (numgrad/ops/optim.py): one call over the group's parameters
        return self._step_groups("rmsprop_update", _init_rmsprop, closure)


def _init_rmsprop(p, state, flags):
    keys = ["square_avg"]
    if flags["use_momentum"]:
        keys.append("momentum_buffer")
    if flags["centered"]:
        keys.append("grad_avg")
    _counted_zeros(p, state, keys)
    return False


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``), same defaults and update (dense gradients).

    For each parameter with a gradient ``g`` (negated when ``maximize``), at step ``t``::

        g = g + weight_decay * p
        s = s + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    Args:
        params: tensors or parameter-group dicts to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: the starting value of ``s`` (default 0).
        eps: added to the denominator for numerical stability (default 1e-10).
        maximize: maximize the objective instead of minimizing it.

    State per parameter, created on construction as torch does: ``"step"`` (a float32 0-d
    tensor) and ``"sum"``.  As in torch, every parameter's ``sum`` starts at the constructor's
    ``initial_accumulator_value``, whatever a param group says.
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0,
        weight_decay=0,
        initial_accumulator_value=0,
        eps=1e-10,
        *,
        maximize=False,
    ):
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, self.state[p], None)

    def _check_hparams(self, hp, where):
        _check_number(hp["lr"], "Invalid learning rate", where)
        _check_number(hp["lr_decay"], "Invalid lr_decay value", where)
        _check_number(hp["weight_decay"], "Invalid weight_decay value", where)
        _check_number(
            hp["initial_accumulator_value"], "Invalid initial_accumulator_value value", where
        )
        _check_number(hp["eps"], "Invalid epsilon value", where)

    def _init_state(self, p, state, flags):
        _counted_zeros(p, state, ())
        if "sum" not in state:
            value = self.defaults["initial_accumulator_value"]
            state["sum"] = _state_like(p, np.full(p._data.shape, value, p._data.dtype))
        return False

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # op adagrad_update (numgrad/ops/optim.py): one call over the group's parameters
        return self._step_groups("adagrad_update", self._init_state, closure)


class Adadelta(Optimizer):
    """Adadelta (``torch.optim.Adadelta``), same defaults and update.

    For each parameter with a gradient ``g`` (negated when ``maximize``)::

        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    Args:
        params: tensors or parameter-group dicts to optimize.
        lr: coefficient scaling delta before it is applied (default 1.0).
        rho: coefficient of the running averages (default 0.9).
        eps: added inside the square roots for numerical stability (default 1e-6).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``"step"`` (a float32 0-d tensor), ``"square_avg"`` (v) and
    ``"acc_delta"`` (u).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_hparams(self, hp, where):
        _check_number(hp["lr"], "Invalid learning rate", where)
        _check_number(hp["rho"], "Invalid rho value", where)
        if hp["rho"] > 1.0:
            raise ValueError(f"{where}Invalid rho value: {hp['rho']!r}")
        _check_number(hp["eps"], "Invalid epsilon value", where)
        _check_number(hp["weight_decay"], "Invalid weight_decay value", where)

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # op adadelta_update (numgrad/ops/optim.py): one call over the group's parameters
        return self._step_groups("adadelta_update", _init_adadelta, closure)


def _init_adadelta(p, state, flags):
    _counted_zeros(p, state, ("square_avg", "acc_delta"))
    return False


class Adamax(Optimizer):
    """Adamax (``torch.optim.Adamax``), Adam with the infinity norm; same defaults and update.

    For each parameter with a gradient ``g`` (negated when ``maximize``), at step ``t``::

        g = g + weight_decay * p
        m = m.lerp(g, 1 - beta1)
        u = maximum(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u

    Args:
        params: tensors or parameter-group dicts to optimize.
        lr: learning rate (default 2e-3).
        betas: coefficients of the running average and the infinity norm (default
            (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``"step"`` (a float32 0-d tensor), ``"exp_avg"`` and ``"exp_inf"``.
    """

    def __init__(
        self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False
    ):
        defaults = {
            "lr": lr,
            "betas": _pair(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_hparams(self, hp, where):
        _check_number(hp["lr"], "Invalid learning rate", where)
        _check_number(hp["eps"], "Invalid epsilon value", where)
        betas = hp["betas"] = _pair(hp["betas"], where)
        _check_number(betas[0], "Invalid beta parameter at index 0", where, hi=1.0)
        _check_number(betas[1], "Invalid beta parameter at index 1", where, hi=1.0)
        _check_number(hp["weight_decay"], "Invalid weight_decay value", where)

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # op adamax_update (numgrad/ops/optim.py): one call over the group's parameters
        return self._step_groups("adamax_update", _init_adamax, closure)


def _init_adamax(p, state, flags):
    _counted_zeros(p, state, ("exp_avg", "exp_inf"))
    return False


class RAdam(Optimizer):
    """RAdam (``torch.optim.RAdam``): Adam with the variance rectification; same defaults and
    update.

    For each parameter with a gradient ``g`` (negated when ``maximize``), at step ``t``, with
    ``rho_inf = 2 / (1 - beta2) - 1`` and ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``::

        p = p * (1 - lr * weight_decay)  if decoupled_weight_decay  else  g = g + weight_decay * p
        m = m.lerp(g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        step = m / (1 - beta1**t) * lr
        step = step * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r_t    if rho_t > 5
        p = p - step

    where ``r_t`` is the rectification term.  Args as :class:`Adam` (no amsgrad).

    State per parameter: ``"step"`` (a float32 0-d tensor), ``"exp_avg"``, ``"exp_avg_sq"``.
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        decoupled_weight_decay=False,
        *,
        maximize=False,
    ):
        defaults = {
            "lr": lr,
            "betas": _pair(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    _check_hparams = Adamax._check_hparams

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # op radam_update (numgrad/ops/optim.py): one call over the group's parameters
        return self._step_groups("radam_update", _init_radam, closure)


def _init_radam(p, state, flags):
    _counted_zeros(p, state, ("exp_avg", "exp_avg_sq"))
    return False


class NAdam(Optimizer):
    """NAdam (``torch.optim.NAdam``): Adam with Nesterov momentum; same defaults and update.

    For each parameter with a gradient ``g`` (negated when ``maximize``), at step ``t``, with
    ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))`` and ``mu_product`` the
    product of the ``mu`` so far (a float32 state, as torch's)::

        p = p * (1 - lr * weight_decay)  if decoupled_weight_decay  else  g = g + weight_decay * p
        m = m.lerp(g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - mu_product) * g / denom
        p = p - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / denom

    Args:
        params: tensors or parameter-group dicts to optimize.
        lr: learning rate (default 2e-3).
        betas: coefficients of the running averages (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty, or decoupled decay with ``decoupled_weight_decay`` (default 0).
        momentum_decay: the momentum decay ``psi`` (default 4e-3).
        decoupled_weight_decay: decay the weights directly, as AdamW (default False).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``"step"`` and ``"mu_product"`` (float32 0-d tensors), ``"exp_avg"``,
    ``"exp_avg_sq"``.
    """

    _per_tensor_keys = ("step", "mu_product")

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
        *,
        maximize=False,
    ):
        defaults = {
            "lr": lr,
            "betas": _pair(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_hparams(self, hp, where):
        Adamax._check_hparams(self, hp, where)
        _check_number(hp["momentum_decay"], "Invalid momentum_decay value", where)

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # op nadam_update (numgrad/ops/optim.py): one call over the group's parameters,
        # whose per-tensor rule also updates each parameter's mu_product
        return self._step_groups("nadam_update", _init_nadam, closure)


def _init_nadam(p, state, flags):
    _counted_zeros(p, state, ("exp_avg", "exp_avg_sq"))
    if "mu_product" not in state:
        state["mu_product"] = _state_like(p, np.ones((), np.float32))
    return False
