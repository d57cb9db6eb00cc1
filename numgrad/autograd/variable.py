"""``torch.autograd.Variable``, merged into Tensor since torch 0.4 and still in old code.

Imports nothing from numgrad (it is the ground floor of docs/architecture.md's layers): it only
calls the tensor's own ``detach`` and ``requires_grad_``.
"""


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802  (torch's name)
    """A new tensor sharing ``data``'s values, detached from its graph and requiring grad if
    asked, as torch's ``Variable(tensor, requires_grad=...)`` returns (``volatile`` is
    accepted and ignored, as in torch since 0.4)."""
    if not (hasattr(data, "detach") and hasattr(data, "requires_grad_")):
        raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
    t = data.detach()
    if requires_grad:
        t.requires_grad_(True)
    return t
