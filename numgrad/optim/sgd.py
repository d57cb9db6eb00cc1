"""Stochastic gradient descent, optionally with (Nesterov) momentum: ``torch.optim.SGD``."""

from __future__ import annotations

from .optimizer import Optimizer, _check_number, _empty_state


class SGD(Optimizer):
    """Stochastic gradient descent (``torch.optim.SGD``), same defaults and update.

    For each parameter with a gradient ``g`` (negated when ``maximize``)::

        g = g + weight_decay * p
        b = g on the first step, else momentum * b + (1 - dampening) * g   (if momentum != 0)
        g = g + momentum * b if nesterov else b                            (if momentum != 0)
        p = p - lr * g

    Args:
        params: tensors or parameter-group dicts to optimize.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening for momentum (default 0).
        weight_decay: L2 penalty (default 0).
        nesterov: use Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
        maximize: maximize the objective instead of minimizing it.

    State per parameter (only when ``momentum != 0``): ``"momentum_buffer"``.
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0,
        dampening=0,
        weight_decay=0,
        nesterov=False,
        *,
        maximize=False,
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_hparams(self, hp, where):
        _check_number(hp["lr"], "Invalid learning rate", where)
        _check_number(hp["momentum"], "Invalid momentum value", where)
        _check_number(hp["dampening"], "Invalid dampening value", where, lo=float("-inf"))
        _check_number(hp["weight_decay"], "Invalid weight_decay value", where)
        if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
            raise ValueError(
                f"{where}Nesterov momentum requires a momentum and zero dampening (got "
                f"momentum={hp['momentum']!r}, dampening={hp['dampening']!r})"
            )

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # op sgd_update (numgrad/ops/optim.py): one call over the group's parameters
        return self._step_groups("sgd_update", _init_momentum, closure)


def _init_momentum(p, state, flags):
    if state.get("momentum_buffer") is None:
        # the first step fills it with the gradient (torch clones the gradient)
        state["momentum_buffer"] = _empty_state(p)
        return True
    return False
