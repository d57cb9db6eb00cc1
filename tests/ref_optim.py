"""The reference device's implementations for the issue 11 area 'optim': the update ops of
``numgrad/ops/optim.py`` added for it, run by ``ref_backend.Update`` (their rules as plain
Python, element by element, through the device contract alone)."""

from ref_backend import Update

IMPLS = {
    name: (Update(name), {})
    for name in (
        "rmsprop_update",
        "adagrad_update",
        "adadelta_update",
        "adamax_update",
        "radam_update",
        "nadam_update",
    )
}
