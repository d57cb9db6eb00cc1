"""``numgrad.backends.opt_einsum``: whether einsum may reorder contractions with the
opt_einsum package.  numgrad does not use it: unavailable, as torch reports without it."""

enabled = False
strategy = None


def is_available():
    """False: numgrad's einsum does not use opt_einsum."""
    return False


def get_opt_einsum():
    """None: the opt_einsum package is not used."""
    return None
