"""numgrad: a JIT-compiled (Numba) automatic-differentiation engine with torch's API.

Every operation is a row in the op table (:mod:`numgrad.ops`); the tape (:mod:`numgrad.tape`)
records them and walks them backwards.  See README.md and docs/ for the design.
"""

import gc as _gc
import os as _os

# Start-up: the import makes ~60,000 long-lived objects (Numba's typing tables, the op table,
# kernels) that are never garbage, and the cyclic collector would walk them again and again:
# about 80 ms of a 0.67 s warm start (import + first training step, measured here).  The
# collector is paused during the import, and what exists once it is done is frozen
# (gc.freeze: never walked again; objects made later are collected as usual).  Set
# NUMGRAD_GC_FREEZE=0 to leave the collector alone (docs/architecture.md, start-up).
_gc_was_enabled = _gc.isenabled()
_gc_freeze = _os.environ.get("NUMGRAD_GC_FREEZE", "1") != "0"
if _gc_freeze:
    _gc.disable()
try:
    # first: the kernel-cache guards must be in place before any @njit(cache=True) is decorated
    from .devices import kernel_cache  # noqa: F401
    from . import ops  # noqa: F401  (registers the op table)
    from .devices import cpu  # noqa: F401  (registers the CPU device's kernels)
    from .creation import (
        arange,
        as_tensor,
        empty,
        empty_like,
        eye,
        from_numpy,
        full,
        full_like,
        linspace,
        ones,
        ones_like,
        rand,
        rand_like,
        randint,
        randn,
        randn_like,
        randperm,
        tensor,
        zeros,
        zeros_like,
    )
    from .dtypes import DType
    from .dtypes import bool_ as bool  # noqa: A001
    from .dtypes import float16, float32, float64, int32, int64, uint8
    from .functional import (
        abs,
        all,
        any,
        ceil,
        floor,
        round,
        trunc,
        absolute,
        add,
        amax,
        amin,
        argmax,
        argmin,
        bmm,
        broadcast_to,
        cat,
        chunk,
        clamp,
        clamp_max,
        clamp_min,
        clip,
        clone,
        concat,
        concatenate,
        div,
        divide,
        dot,
        eq,
        exp,
        expand,
        flatten,
        floor_divide,
        ge,
        gt,
        le,
        log,
        log_softmax,
        logical_not,
        logsumexp,
        lt,
        masked_fill,
        matmul,
        max,
        maximum,
        mean,
        min,
        minimum,
        mm,
        mul,
        multiply,
        mv,
        ne,
        neg,
        negative,
        norm,
        outer,
        permute,
        pow,
        relu,
        remainder,
        reshape,
        rsqrt,
        sigmoid,
        sign,
        softmax,
        split,
        sqrt,
        square,
        squeeze,
        stack,
        std,
        sub,
        subtract,
        sum,
        swapaxes,
        t,
        tanh,
        transpose,
        true_divide,
        unbind,
        unflatten,
        unsqueeze,
        var,
        view,
        where,
    )
    from .random import manual_seed, seed
    from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
    from .tensor import Device as device
    from .tensor import Size, Tensor

    from . import autograd, cuda, nn, optim, utils  # noqa: E402, I001
    from .serialization import load, save

    # ---- issue 11 section: math ----
    from .functional import (  # noqa: I001
        acos,
        acosh,
        allclose,
        arccos,
        arccosh,
        arcsin,
        arcsinh,
        arctan,
        arctan2,
        arctanh,
        asin,
        asinh,
        atan,
        atan2,
        atanh,
        cos,
        cosh,
        erf,
        erfc,
        erfinv,
        exp2,
        expm1,
        hypot,
        isclose,
        isfinite,
        isinf,
        isnan,
        isneginf,
        isposinf,
        lerp,
        log10,
        log1p,
        log2,
        logical_and,
        logical_or,
        logical_xor,
        nan_to_num,
        reciprocal,
        signbit,
        sin,
        sinc,
        sinh,
        tan,
    )

    # ---- end section: math ----
    # ---- issue 11 section: habits ----
    from . import accelerator, backends  # noqa: E402
    from .legacy import (  # noqa: E402
        BoolTensor,
        ByteTensor,
        DoubleTensor,
        FloatTensor,
        HalfTensor,
        IntTensor,
        LongTensor,
        are_deterministic_algorithms_enabled,
        get_default_device,
        get_default_dtype,
        get_float32_matmul_precision,
        inference_mode,
        is_inference_mode_enabled,
        no_grad,  # noqa: F811  (also a decorator without parentheses)
        set_default_device,
        set_default_dtype,
        set_float32_matmul_precision,
        sparse_coo_tensor,
        sparse_csr_tensor,
        use_deterministic_algorithms,
    )
    from .legacy import accepts_out as _accepts_out
    from .printing import get_printoptions, printoptions, set_printoptions  # noqa: E402

    # out= on the public functions (numgrad.add(a, b, out=c)); the Tensor methods and
    # operators stay unwrapped, so `a + b` pays nothing for it.  One wrapper per function, so
    # aliases (arcsin, absolute, clip...) stay the same object as their function.
    _wrapped = {
        id(fn): _accepts_out(fn, exact=name in ("matmul", "mm", "bmm"))
        for name, fn in globals().items()
        if name
        in (
            "add sub mul div pow floor_divide remainder maximum minimum neg abs exp log sqrt "
            "rsqrt tanh sigmoid sign clamp round floor ceil trunc square sum mean amax amin "
            "logsumexp cat stack matmul mm bmm sin cos tan asin acos atan atan2 sinh cosh asinh "
            "acosh atanh erf erfc erfinv log10 log2 log1p expm1 exp2 sinc hypot"
        ).split()
    }
    for _name, _fn in list(globals().items()):
        if id(_fn) in _wrapped:
            globals()[_name] = _wrapped[id(_fn)]
    del _wrapped, _name, _fn
    # ---- end section: habits ----
    # ---- issue 11 section: random ----
    from .creation import normal, randint_like
    from .functional import bernoulli, meshgrid, multinomial, poisson
    from .random import (
        Generator,
        default_generator,
        get_rng_state,
        initial_seed,
        set_rng_state,
    )
    from .random import _LazySubmodule

    # imported on first use (warm start), like numgrad.utils.data
    distributions = _LazySubmodule("numgrad.distributions")
    # ---- end section: random ----
    # ---- issue 11 section: tensor_ops ----
    from .functional import (  # noqa: F401  (issue 11: tensor ops)
        gather,
        scatter,
        scatter_add,
        index_select,
        masked_select,
        take,
        narrow,
        select,
        movedim,
        moveaxis,
        cumsum,
        cumprod,
        cummax,
        cummin,
        prod,
        sort,
        argsort,
        topk,
        kthvalue,
        median,
        mode,
        roll,
        flip,
        fliplr,
        flipud,
        tril,
        triu,
        diagonal,
        diag,
        tile,
        einsum,
        count_nonzero,
        nonzero,
        argwhere,
        searchsorted,
        bucketize,
        bincount,
        histc,
        histogram,
        unique,
        ravel,
        trace,
        take_along_dim,
        index_add,
    )
    from .functional import equal
    # ---- end section: tensor_ops ----
    # ---- issue 11 section: function ----
    # ---- end section: function ----
finally:
    if _gc_freeze:
        _gc.freeze()
        if _gc_was_enabled:
            _gc.enable()
    del _gc_was_enabled, _gc_freeze

float = float32  # noqa: A001
double = float64
long = int64

__version__ = "0.1.0"


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):  # noqa: A002
    return input.numel()


def get_num_threads():
    """Threads numgrad uses: Numba's thread count, which ``set_num_threads`` keeps equal to the
    BLAS thread count (numgrad's matrix products call scipy's BLAS; its other kernels run on one
    thread)."""
    import numba

    return numba.get_num_threads()


def set_num_threads(n):
    """Set the threads numgrad may use, like ``torch.set_num_threads``: Numba's thread count and
    the thread pools of the BLAS libraries numpy and scipy load (through threadpoolctl)."""
    import numba
    from threadpoolctl import threadpool_limits

    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    # numba cannot go above the pool size it started with (NUMBA_NUM_THREADS)
    cap = numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(n if n < cap else cap)
    # scipy's BLAS is loaded lazily; import it so its pool is limited too
    import scipy.linalg  # noqa: F401

    threadpool_limits(limits=n, user_api="blas")


def compile(model=None, **kwargs):  # noqa: A001  (torch's name)
    """``torch.compile``'s shape: see :func:`numgrad.compiler.compile` and docs/compile.md.

    (The compiler package loads on first use, so a process that never compiles does not pay
    for importing it.)"""
    from .compiler import compile as _compile

    return _compile(model, **kwargs)


def from_dlpack(ext_tensor):
    """A tensor sharing the memory of ``ext_tensor`` (no copy): a CUDA array (torch, CuPy,
    anything with ``__cuda_array_interface__``) lands on ``cuda:0``, a host DLPack array (numpy,
    a CPU torch tensor) on the CPU.  See :mod:`numgrad.dlpack`."""
    from .creation import from_dlpack as _from_dlpack

    return _from_dlpack(ext_tensor)
