"""Optimizer updates: scalar rules applied in place to every parameter of a group in one call.

An update is a row of the op table like any other (non-differentiable: every backward entry is
None), so a device builds it from its rules and ``numgrad.compile`` can fuse it.  Its
``forward`` kernel comes from :func:`update`, whose spec a device turns into one call over
*all* the parameters of a group (``devices/cpu/optim.py``: a generated loop over a table of
pointers, one row per parameter).

Declaration format
------------------
::

    register_update(
        "sgd_update",
        update(
            sgd_rule,                                   # per element: new param and buffer
            sgd_plan,                                   # group hyperparameters -> scalars
            writes=("param", "momentum_buffer"),
            static=("maximize", "decay", "use_momentum", "nesterov", "first"),
            optional={"momentum_buffer": "use_momentum"},
            first="first",
        ),
    )

``register_update`` registers an :class:`Op` whose inputs are the slots (then the counters),
whose outputs are the slots written in place, whose attrs are every other argument of the
rules, and whose backward entries are all None (updates run outside autograd).

Slots
    ``param`` and ``grad`` come from the parameter; every other slot is the optimizer's state
    entry of that name (``state[p]["exp_avg"]``), so slot names are torch's state keys.
    Element slots hold one value per element of the parameter (same shape, dtype, contiguous);
    ``counters`` are per-tensor float32 0-d states (Adam's ``step``).

``update(rule, plan, writes, static, optional, counters, per_tensor, first)``
    rule        scalar rule called per element with the element slots, the scalars, the
                per-tensor values and the static flags (by parameter name); returns the new
                values of ``writes``, in that order.
    plan        plain Python ``plan(group, cast) -> {name: value}``: every non-slot argument
                of the rules from a param group's hyperparameters.  Scalars the element rule
                reads are cast to the parameter's dtype with ``cast`` (numpy's scalar type):
                a float32 update must compute in float32 as torch's does, and a python float
                would widen it.  Per-tensor rule scalars stay python floats (float64), and
                static flags are bools.
    static      bool attrs fixed per group: each device compiles one variant per combination,
                so the loops hold no runtime branch on them.
    optional    ``{slot: flag}``: the slot exists (and is read and written) only when the
                static flag is on, e.g. the momentum buffer without momentum.
    counters    per-tensor float32 states incremented by one (float32 arithmetic, as torch's
                ``step += 1``) before ``per_tensor`` reads them.
    per_tensor  ``(rule, names)``: a scalar rule of the counters (passed as float64, as
                torch's step becomes a python float) and float64 scalars, run once per
                parameter, whose results (computed in float64, then cast to the element
                dtype) the element rule reads by ``names``: Adam's bias corrections, which
                differ per parameter when some skipped steps without a gradient.
    first       the static flag a device call gets for parameters whose state the optimizer
                created in this step (SGD's first momentum step copies the gradient); other
                parameters run in a second call, so a step is one call per group and dtype
                except on the step that creates state for some of them.

Devices
    A device registers ``impl(name, device, forward=make)`` where ``make(rows, static, dtype)``
    binds the update to one call's parameters and returns ``bound``; ``rows[j]`` holds
    parameter j's arrays (``param``, None for ``grad``, the state slots present for ``static``
    in slot order, then the counters) and stays valid while the optimizer holds it (it binds
    again when any of those arrays changes).  ``bound(grads, *scalars)`` runs the update:
    ``grads`` the gradient arrays (checked: same shape and dtype as their parameter,
    contiguous), ``scalars`` the plan's values of ``spec["scalars"]`` then
    ``spec["per_tensor_scalars"]``.  The optimizer (``optim/optimizer.py``) does the checking,
    the state creation and the binding, so a device only generates the loop: see
    ``devices/cpu/optim.py``; ``rule.py_func`` runs the same rules on plain Python numbers.

Numerics: every expression keeps the association and rounding of the torch op it mirrors
(``buf.mul_(m).add_(g, alpha=a)`` is ``buf * m + a * g``), devices compile the rules without
FMA contraction, and there are no numeric literals in element rules (``float32 * 0.5`` would
widen to float64), so float64 agrees with torch to the last few ulps.
"""

from __future__ import annotations

import inspect

from .math import power, scalar, sqrt
from .registry import Kernel, Op, register


def update(rule, plan, writes, static=(), optional=None, counters=(), per_tensor=None, first=None):
    """The forward Kernel of an optimizer update (see the module docstring)."""
    params = tuple(inspect.signature(rule.py_func).parameters)
    pt_rule, pt_names = per_tensor if per_tensor is not None else (None, ())
    pt_params = tuple(inspect.signature(pt_rule.py_func).parameters) if pt_rule else ()
    slots = tuple(a for a in params if a in ("param", "grad") or a in writes)
    scalars = tuple(a for a in params if a not in slots and a not in pt_names and a not in static)
    pt_scalars = tuple(a for a in pt_params if a not in counters)
    name = rule.py_func.__name__
    for w in writes:
        if w not in slots:
            raise ValueError(f"update {name}: written slot '{w}' is not an argument of the rule")
    for slot, flag in (optional or {}).items():
        if slot not in slots or flag not in static:
            raise ValueError(f"update {name}: optional slot '{slot}' needs a static flag")
    if first is not None and first not in static:
        raise ValueError(f"update {name}: first flag '{first}' is not static")
    spec = {
        "rule": rule,
        "plan": plan,
        "slots": slots,  # element slots, in the rule's order
        "writes": tuple(writes),
        "scalars": scalars,  # element-dtype scalars, in the rule's order
        "static": tuple(static),
        "optional": dict(optional or {}),
        "counters": tuple(counters),
        "per_tensor": pt_rule,
        "per_tensor_names": tuple(pt_names),
        "per_tensor_scalars": pt_scalars,  # float64 scalars of the per-tensor rule
        "first": first,
    }
    args = slots + tuple(counters) + scalars + pt_scalars + tuple(static)
    return Kernel(args=tuple(dict.fromkeys(args)), name=name, spec=spec)


def register_update(name, kernel):
    """Register the op table row of update ``name`` (see the module docstring)."""
    spec = kernel.spec
    inputs = spec["slots"] + spec["counters"]
    attrs = tuple(a for a in kernel.args if a not in inputs)
    return register(
        Op(
            name,
            inputs=inputs,
            outputs=spec["writes"] + spec["counters"],
            attrs=attrs,
            forward=kernel,
            backward=dict.fromkeys(inputs),
            promote=None,
        )
    )


# ---- SGD -------------------------------------------------------------------------------------


@scalar
def sgd_rule(
    param,
    grad,
    momentum_buffer,
    neg_lr,
    weight_decay,
    momentum,
    dampening_weight,
    maximize,
    decay,
    use_momentum,
    nesterov,
    first,
):
    """torch's single-tensor SGD: L2 decay, (Nesterov) momentum with dampening, maximize."""
    g = -grad if maximize else grad
    if decay:
        g = g + weight_decay * param
    b = momentum_buffer
    if use_momentum:
        # torch clones the (decayed) gradient into a new buffer on the first step
        b = g if first else momentum_buffer * momentum + dampening_weight * g
        g = g + momentum * b if nesterov else b
    return param + neg_lr * g, b


def sgd_plan(group, cast):
    momentum = group["momentum"]
    return {
        "neg_lr": cast(-group["lr"]),
        "weight_decay": cast(group["weight_decay"]),
        "momentum": cast(momentum),
        "dampening_weight": cast(1 - group["dampening"]),
        "maximize": bool(group["maximize"]),
        "decay": bool(group["weight_decay"] != 0),
        "use_momentum": bool(momentum != 0),
        "nesterov": bool(group["nesterov"]),
        "first": False,
    }


register_update(
    "sgd_update",
    update(
        sgd_rule,
        sgd_plan,
        writes=("param", "momentum_buffer"),
        static=("maximize", "decay", "use_momentum", "nesterov", "first"),
        optional={"momentum_buffer": "use_momentum"},
        first="first",
    ),
)

# ---- Adam / AdamW ----------------------------------------------------------------------------


@scalar
def adam_bias_corrections(step, lr, beta1, beta2, half):
    """torch's non-capturable path: the float32 step becomes a python float and the bias
    corrections are computed in double precision.  ``half`` is 0.5 passed at run time: torch
    computes ``bias_correction2 ** 0.5`` with pow, and a literal 0.5 would let the compiler
    turn it into sqrt, which differs in the last bit for about 0.2% of steps."""
    bias_correction1 = 1 - power(beta1, step)
    bias_correction2 = 1 - power(beta2, step)
    return -(lr / bias_correction1), power(bias_correction2, half)


@scalar
def adam_rule(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    max_exp_avg_sq,
    weight_decay,
    param_decay,
    avg_weight,
    avg_keep,
    sq_decay,
    sq_weight,
    eps,
    neg_step_size,
    bias_correction2_sqrt,
    maximize,
    decay,
    decoupled,
    amsgrad,
    small_avg_weight,
):
    """Adam / AdamW, torch's single-tensor formulation.

    ``param_decay`` is ``1 - lr * weight_decay`` (AdamW's decoupled decay, applied to the
    parameter before the moments); ``avg_weight`` is ``1 - beta1``, the weight of
    ``exp_avg.lerp_(g, 1 - beta1)``, and ``avg_keep`` is ``1 - avg_weight``.
    """
    g = -grad if maximize else grad
    p = param
    if decay:
        if decoupled:
            p = p * param_decay
        else:
            g = g + weight_decay * p
    # torch's lerp switches formula at weight 0.5 to stay exact near both ends
    if small_avg_weight:
        m = exp_avg + avg_weight * (g - exp_avg)
    else:
        m = g - (g - exp_avg) * avg_keep
    v = exp_avg_sq * sq_decay
    v = v + sq_weight * g * g
    vmax = max_exp_avg_sq
    if amsgrad:
        # torch.maximum propagates NaN from either side
        if v > vmax or v != v:
            vmax = v
        denom = sqrt(vmax) / bias_correction2_sqrt + eps
    else:
        denom = sqrt(v) / bias_correction2_sqrt + eps
    return p + neg_step_size * m / denom, m, v, vmax


def adam_plan(group, cast):
    lr = float(group["lr"])
    beta1, beta2 = group["betas"]
    weight_decay = group["weight_decay"]
    avg_weight = cast(1 - beta1)
    return {
        "weight_decay": cast(weight_decay),
        "param_decay": cast(1 - lr * weight_decay),
        "avg_weight": avg_weight,
        "avg_keep": cast(1) - avg_weight,
        "sq_decay": cast(beta2),
        "sq_weight": cast(1 - beta2),
        "eps": cast(group["eps"]),
        "lr": lr,
        "beta1": float(beta1),
        "beta2": float(beta2),
        "half": 0.5,
        "maximize": bool(group["maximize"]),
        "decay": bool(weight_decay != 0),
        "decoupled": bool(group.get("decoupled_weight_decay", False)),
        "amsgrad": bool(group["amsgrad"]),
        "small_avg_weight": bool(abs(avg_weight) < 0.5),
    }


register_update(
    "adam_update",
    update(
        adam_rule,
        adam_plan,
        writes=("param", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
        static=("maximize", "decay", "decoupled", "amsgrad", "small_avg_weight"),
        optional={"max_exp_avg_sq": "amsgrad"},
        counters=("step",),
        per_tensor=(adam_bias_corrections, ("neg_step_size", "bias_correction2_sqrt")),
    ),
)
