"""Seed 1: the smallest autograd example -- the gradient of a dot product plus a bias.

    y = w . x + b,   x = [2, 3],  w = [4, 5],  b = [7]   ->   y = [30]

Calling ``y.backward()`` fills in ``.grad`` on every leaf that ``requires_grad``:

    dy/dx = w = [4, 5],   dy/dw = x = [2, 3],   dy/db = [1]

The code is exactly what you would write with torch (``numgrad`` in place of ``torch``).

Run it with ``python examples/seed1_dot.py``.
"""

import numgrad


def main():
    x = numgrad.tensor([2.0, 3.0], requires_grad=True)
    w = numgrad.tensor([4.0, 5.0], requires_grad=True)
    b = numgrad.tensor([7.0], requires_grad=True)

    y = numgrad.dot(w, x) + b
    y.backward()

    print("y      =", y)
    print("x.grad =", x.grad)
    print("w.grad =", w.grad)
    print("b.grad =", b.grad)

    return {
        "y": y.detach().numpy(),
        "x_grad": x.grad.numpy(),
        "w_grad": w.grad.numpy(),
        "b_grad": b.grad.numpy(),
    }


if __name__ == "__main__":
    main()
