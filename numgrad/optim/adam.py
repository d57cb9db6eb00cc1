"""Adam and AdamW: ``torch.optim.Adam`` / ``torch.optim.AdamW``."""

from __future__ import annotations

from .optimizer import Optimizer, _check_number, _counted_zeros


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``), same defaults and update.

    For each parameter with a gradient ``g`` (negated when ``maximize``), at step ``t``::

        p = p * (1 - lr * weight_decay)  if decoupled_weight_decay  else  g = g + weight_decay * p
        m = m.lerp(g, 1 - beta1)
        v = v * beta2 + (1 - beta2) * g * g
        v_max = max(v_max, v)                                    (amsgrad; v_max replaces v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Args:
        params: tensors or parameter-group dicts to optimize.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and its square
            (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty, or decoupled decay with ``decoupled_weight_decay`` (default 0).
        amsgrad: use the AMSGrad variant (default False).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: decay the weights directly, as AdamW (default False).

    State per parameter: ``"step"`` (a float32 0-d tensor), ``"exp_avg"``, ``"exp_avg_sq"`` and,
    with ``amsgrad``, ``"max_exp_avg_sq"``.
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        *,
        maximize=False,
        decoupled_weight_decay=False,
    ):
        defaults = {
            "lr": lr,
            "betas": _pair(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
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
        # op adam_update (numgrad/ops/optim.py): one call over the group's parameters,
        # which also counts each parameter's "step"
        return self._step_groups("adam_update", _init_adam, closure)


def _init_adam(p, state, flags):
    _counted_zeros(
        p, state, ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if flags["amsgrad"] else ())
    )
    return False


class AdamW(Adam):
    """AdamW (``torch.optim.AdamW``): Adam with decoupled weight decay, default 1e-2.

    The parameter is first scaled by ``1 - lr * weight_decay``; the moments never see the
    decay.  Arguments and state are those of :class:`Adam`.
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=1e-2,
        amsgrad=False,
        *,
        maximize=False,
    ):
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        # as torch: AdamW always decouples, whatever the loaded groups say
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def _pair(betas, where=""):
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"{where}betas must be a pair of floats, got {betas!r}") from None
    return (b1, b2)
