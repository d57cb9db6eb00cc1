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

``update(rule, plan, writes, static, optional, counters, per_tensor, first, tensor_states)``
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
    tensor_states  per-tensor float32 states the per-tensor rule reads (as float64) and
                writes: each is also one of its result ``names``, stored back in float32
                (NAdam's ``mu_product``).  Like the counters, they are inputs and outputs of
                the op and columns after the slots (``spec["counters"]`` holds both kinds,
                ``spec["increments"]`` the counters).
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

import numpy as np

from .math import one_of, power, scalar, sqrt, zero_of
from .registry import Kernel, Op, register


def update(
    rule,
    plan,
    writes,
    static=(),
    optional=None,
    counters=(),
    per_tensor=None,
    first=None,
    tensor_states=(),
):
    """The forward Kernel of an optimizer update (see the module docstring)."""
    params = tuple(inspect.signature(rule.py_func).parameters)
    pt_rule, pt_names = per_tensor if per_tensor is not None else (None, ())
    increments = tuple(counters)
    counters = increments + tuple(tensor_states)
    for s in tensor_states:
        if s not in pt_names:
            raise ValueError(
                f"update: per-tensor state '{s}' is not a result of the per-tensor rule"
            )
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
        "counters": counters,  # every per-tensor float32 state
        "increments": increments,  # those incremented by one before the per-tensor rule
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

# ---- RMSprop -----------------------------------------------------------------------------------


@scalar
def rmsprop_rule(
    param,
    grad,
    square_avg,
    grad_avg,
    momentum_buffer,
    neg_lr,
    weight_decay,
    alpha,
    sq_weight,
    avg_weight,
    avg_keep,
    eps,
    momentum,
    maximize,
    decay,
    centered,
    small_avg_weight,
    use_momentum,
):
    """torch's single-tensor RMSprop: L2 decay, centered (``grad_avg``), momentum, maximize.

    ``sq_weight`` is ``1 - alpha``; ``avg_weight`` the same value, the weight of
    ``grad_avg.lerp_(g, 1 - alpha)``, and ``avg_keep`` is ``1 - avg_weight``.
    """
    g = -grad if maximize else grad
    if decay:
        g = g + weight_decay * param
    v = square_avg * alpha
    v = v + sq_weight * g * g
    ga = grad_avg
    if centered:
        # torch's lerp switches formula at weight 0.5 to stay exact near both ends
        if small_avg_weight:
            ga = grad_avg + avg_weight * (g - grad_avg)
        else:
            ga = g - (g - grad_avg) * avg_keep
        avg = sqrt(v - ga * ga) + eps
    else:
        avg = sqrt(v) + eps
    b = momentum_buffer
    if use_momentum:
        b = momentum_buffer * momentum + g / avg
        p = param + neg_lr * b
    else:
        p = param + neg_lr * g / avg
    return p, v, ga, b


def rmsprop_plan(group, cast):
    alpha = group["alpha"]
    momentum = group["momentum"]
    avg_weight = cast(1 - alpha)
    return {
        "neg_lr": cast(-group["lr"]),
        "weight_decay": cast(group["weight_decay"]),
        "alpha": cast(alpha),
        "sq_weight": avg_weight,
        "avg_weight": avg_weight,
        "avg_keep": cast(1) - avg_weight,
        "eps": cast(group["eps"]),
        "momentum": cast(momentum),
        "maximize": bool(group["maximize"]),
        "decay": bool(group["weight_decay"] != 0),
        "centered": bool(group["centered"]),
        # only read when centered: kept off otherwise, so no variant is compiled for nothing
        "small_avg_weight": bool(group["centered"]) and bool(abs(avg_weight) < 0.5),
        "use_momentum": bool(momentum > 0),
    }


register_update(
    "rmsprop_update",
    update(
        rmsprop_rule,
        rmsprop_plan,
        writes=("param", "square_avg", "grad_avg", "momentum_buffer"),
        static=("maximize", "decay", "centered", "small_avg_weight", "use_momentum"),
        optional={"grad_avg": "centered", "momentum_buffer": "use_momentum"},
        counters=("step",),
    ),
)

# ---- Adagrad -----------------------------------------------------------------------------------


@scalar
def adagrad_step_size(step, lr, lr_decay):
    """torch's ``clr = lr / (1 + (step - 1) * lr_decay)`` in double precision (step is a python
    float there); the element rule reads ``-clr``."""
    return (-(lr / (1 + (step - 1) * lr_decay)),)


@scalar
def adagrad_rule(param, grad, sum, neg_clr, weight_decay, eps, maximize, decay):
    """torch's single-tensor Adagrad (dense gradients): L2 decay, lr decay, maximize.  ``sum``
    is torch's state key, the running sum of squared gradients."""
    g = -grad if maximize else grad
    if decay:
        g = g + weight_decay * param
    s = sum + g * g
    std = sqrt(s) + eps
    return param + neg_clr * g / std, s


def adagrad_plan(group, cast):
    return {
        "weight_decay": cast(group["weight_decay"]),
        "eps": cast(group["eps"]),
        "lr": float(group["lr"]),
        "lr_decay": float(group["lr_decay"]),
        "maximize": bool(group["maximize"]),
        "decay": bool(group["weight_decay"] != 0),
    }


register_update(
    "adagrad_update",
    update(
        adagrad_rule,
        adagrad_plan,
        writes=("param", "sum"),
        static=("maximize", "decay"),
        counters=("step",),
        per_tensor=(adagrad_step_size, ("neg_clr",)),
    ),
)

# ---- Adadelta ----------------------------------------------------------------------------------


@scalar
def adadelta_rule(
    param, grad, square_avg, acc_delta, neg_lr, weight_decay, rho, sq_weight, eps, maximize, decay
):
    """torch's single-tensor Adadelta: L2 decay, maximize; ``sq_weight`` is ``1 - rho``."""
    g = -grad if maximize else grad
    if decay:
        g = g + weight_decay * param
    v = square_avg * rho
    v = v + sq_weight * g * g
    std = sqrt(v + eps)
    delta = sqrt(acc_delta + eps)
    delta = delta / std * g
    a = acc_delta * rho
    a = a + sq_weight * delta * delta
    return param + neg_lr * delta, v, a


def adadelta_plan(group, cast):
    rho = group["rho"]
    return {
        "neg_lr": cast(-group["lr"]),
        "weight_decay": cast(group["weight_decay"]),
        "rho": cast(rho),
        "sq_weight": cast(1 - rho),
        "eps": cast(group["eps"]),
        "maximize": bool(group["maximize"]),
        "decay": bool(group["weight_decay"] != 0),
    }


register_update(
    "adadelta_update",
    update(
        adadelta_rule,
        adadelta_plan,
        writes=("param", "square_avg", "acc_delta"),
        static=("maximize", "decay"),
        counters=("step",),
    ),
)

# ---- Adamax ------------------------------------------------------------------------------------


@scalar
def adamax_step_size(step, lr, beta1):
    """torch's ``clr = lr / (1 - beta1 ** step)`` in double precision; the rule reads -clr."""
    return (-(lr / (1 - power(beta1, step))),)


@scalar
def adamax_rule(
    param,
    grad,
    exp_avg,
    exp_inf,
    neg_clr,
    weight_decay,
    avg_weight,
    avg_keep,
    beta2,
    eps,
    maximize,
    decay,
    small_avg_weight,
):
    """torch's single-tensor Adamax: ``exp_inf = maximum(exp_inf * beta2, |g| + eps)``."""
    g = -grad if maximize else grad
    if decay:
        g = g + weight_decay * param
    if small_avg_weight:
        m = exp_avg + avg_weight * (g - exp_avg)
    else:
        m = g - (g - exp_avg) * avg_keep
    a = exp_inf * beta2
    b = (g if g > 0 else -g) + eps
    # torch.maximum propagates NaN from either side
    u = b if (b > a or b != b) else a
    return param + neg_clr * m / u, m, u


def adamax_plan(group, cast):
    beta1, beta2 = group["betas"]
    avg_weight = cast(1 - beta1)
    return {
        "weight_decay": cast(group["weight_decay"]),
        "avg_weight": avg_weight,
        "avg_keep": cast(1) - avg_weight,
        "beta2": cast(beta2),
        "eps": cast(group["eps"]),
        "lr": float(group["lr"]),
        "beta1": float(beta1),
        "maximize": bool(group["maximize"]),
        "decay": bool(group["weight_decay"] != 0),
        "small_avg_weight": bool(abs(avg_weight) < 0.5),
    }


register_update(
    "adamax_update",
    update(
        adamax_rule,
        adamax_plan,
        writes=("param", "exp_avg", "exp_inf"),
        static=("maximize", "decay", "small_avg_weight"),
        counters=("step",),
        per_tensor=(adamax_step_size, ("neg_clr",)),
    ),
)

# ---- RAdam -------------------------------------------------------------------------------------


@scalar
def radam_step_sizes(step, beta1, beta2, half):
    """torch's per-tensor scalars of RAdam, in double precision: the bias corrections and the
    variance rectification (0 while the approximated SMA length ``rho_t`` is at most 5, when
    torch takes the un-adapted step).  ``half`` is 0.5 passed at run time (see
    :func:`adam_bias_corrections`: torch's ``** 0.5`` is a pow)."""
    bias_correction1 = 1 - power(beta1, step)
    bias_correction2 = 1 - power(beta2, step)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * power(beta2, step) / bias_correction2
    rect = 0.0
    if rho_t > 5.0:
        rect = power(
            (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), half
        )
    return bias_correction1, power(bias_correction2, half), rect


@scalar
def radam_rule(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    weight_decay,
    param_decay,
    avg_weight,
    avg_keep,
    sq_decay,
    sq_weight,
    eps,
    lr,
    bias_correction1,
    bias_correction2_sqrt,
    rect,
    maximize,
    decay,
    decoupled,
    small_avg_weight,
):
    """torch's single-tensor RAdam: L2 or decoupled decay, maximize.  The adaptive factor is
    torch's ``bias_correction2 ** 0.5 / denom``, which python evaluates as
    ``denom.reciprocal() * bias_correction2 ** 0.5``."""
    g = -grad if maximize else grad
    p = param
    if decay:
        if decoupled:
            p = p * param_decay
        else:
            g = g + weight_decay * p
    if small_avg_weight:
        m = exp_avg + avg_weight * (g - exp_avg)
    else:
        m = g - (g - exp_avg) * avg_keep
    v = exp_avg_sq * sq_decay
    v = v + sq_weight * g * g
    step_dir = m / bias_correction1 * lr
    if rect > zero_of(rect):
        denom = sqrt(v) + eps
        step_dir = step_dir * (one_of(denom) / denom * bias_correction2_sqrt) * rect
    return p - step_dir, m, v


def radam_plan(group, cast):
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
        "lr": cast(lr),
        "beta1": float(beta1),
        "beta2": float(beta2),
        "half": 0.5,
        "maximize": bool(group["maximize"]),
        "decay": bool(weight_decay != 0),
        "decoupled": bool(group["decoupled_weight_decay"]),
        "small_avg_weight": bool(abs(avg_weight) < 0.5),
    }


register_update(
    "radam_update",
    update(
        radam_rule,
        radam_plan,
        writes=("param", "exp_avg", "exp_avg_sq"),
        static=("maximize", "decay", "decoupled", "small_avg_weight"),
        counters=("step",),
        per_tensor=(radam_step_sizes, ("bias_correction1", "bias_correction2_sqrt", "rect")),
    ),
)

# ---- NAdam -------------------------------------------------------------------------------------


@scalar
def round_to_float32(x):
    """``x`` rounded to the nearest float32, as a float64 (so arithmetic on it stays in
    double precision in plain Python too, where numpy would keep a float32 result float32)."""
    return np.float64(np.float32(x))


@scalar
def nadam_step_sizes(step, mu_product, lr, beta1, beta2, momentum_decay, half):
    """torch's per-tensor NAdam scalars (non-capturable path): the momentum cache ``mu`` of
    this step and the next, the float32 ``mu_product *= mu`` (a float32 product, which the
    double product of the float32 operands rounds to exactly), then in double precision the
    coefficients of the gradient and of ``exp_avg``, and ``bias_correction2``."""
    bias_correction2 = 1 - power(beta2, step)
    mu = beta1 * (1.0 - half * power(0.96, step * momentum_decay))
    mu_next = beta1 * (1.0 - half * power(0.96, (step + 1) * momentum_decay))
    mu_product = round_to_float32(mu_product * round_to_float32(mu))
    mu_product_next = mu_product * mu_next
    grad_coef = -lr * (1.0 - mu) / (1.0 - mu_product)
    avg_coef = (-lr * mu_next) / (1.0 - mu_product_next)
    return mu_product, bias_correction2, grad_coef, avg_coef


@scalar
def nadam_rule(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    weight_decay,
    param_decay,
    avg_weight,
    avg_keep,
    sq_decay,
    sq_weight,
    eps,
    bias_correction2,
    grad_coef,
    avg_coef,
    maximize,
    decay,
    decoupled,
    small_avg_weight,
):
    """torch's single-tensor NAdam: L2 or decoupled decay, maximize."""
    g = -grad if maximize else grad
    p = param
    if decay:
        if decoupled:
            p = p * param_decay
        else:
            g = g + weight_decay * p
    if small_avg_weight:
        m = exp_avg + avg_weight * (g - exp_avg)
    else:
        m = g - (g - exp_avg) * avg_keep
    v = exp_avg_sq * sq_decay
    v = v + sq_weight * g * g
    denom = sqrt(v / bias_correction2) + eps
    p = p + grad_coef * g / denom
    return p + avg_coef * m / denom, m, v


def nadam_plan(group, cast):
    values = radam_plan(group, cast)
    del values["beta1"], values["lr"]
    values["lr"] = float(group["lr"])
    values["beta1"] = float(group["betas"][0])
    values["momentum_decay"] = float(group["momentum_decay"])
    return values


register_update(
    "nadam_update",
    update(
        nadam_rule,
        nadam_plan,
        writes=("param", "exp_avg", "exp_avg_sq"),
        static=("maximize", "decay", "decoupled", "small_avg_weight"),
        counters=("step",),
        tensor_states=("mu_product",),
        per_tensor=(
            nadam_step_sizes,
            ("mu_product", "bias_correction2", "grad_coef", "avg_coef"),
        ),
    ),
)
