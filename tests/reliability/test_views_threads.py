"""Grad mode is per thread; a result is a view only when it shares memory (torch's rules)."""

import threading

import numpy as np
import pytest
import torch

import numgrad as ng
import numgrad.nn as nn


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    ng.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    x = ng.randn(16, 4)
    stop = threading.Event()
    errors = []

    def evaluate():
        # toggles no_grad on and off as fast as it can while the main thread trains
        try:
            while not stop.is_set():
                with ng.no_grad():
                    model(x).sum()
                    assert not ng.is_grad_enabled()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(200):
            model.zero_grad()
            loss = model(x).pow(2).mean()
            assert loss.requires_grad
            loss.backward()
            assert all(p.grad is not None for p in model.parameters())
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert ng.is_grad_enabled()


def test_new_thread_starts_with_grad_enabled_even_inside_no_grad():
    seen = []
    with ng.no_grad():
        t = threading.Thread(target=lambda: seen.append(ng.is_grad_enabled()))
        t.start()
        t.join()
        assert not ng.is_grad_enabled()
    assert seen == [True]  # torch: grad mode is thread-local and defaults to on
    assert ng.is_grad_enabled()


def test_two_threads_leaving_no_grad_restore_their_own_state():
    barrier = threading.Barrier(2)

    def worker():
        with ng.no_grad():
            barrier.wait()
        barrier.wait()

    ts = [threading.Thread(target=worker) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert ng.is_grad_enabled()


def test_view_of_non_contiguous_raises_like_torch():
    x = ng.randn(3, 4).t()
    with pytest.raises(RuntimeError, match=r"view size is not compatible.*\(4, 3\).*reshape"):
        x.view(12)
    with pytest.raises(RuntimeError):
        torch.randn(3, 4).t().view(12)


def test_view_shares_memory_and_writes_reach_the_base():
    x = ng.zeros(2, 3)
    v = x.view(6)
    v[4] = 7.0
    assert x[1, 1].item() == 7.0
    assert x.t().contiguous().view(6).shape == (6,)


def test_reshape_copy_is_not_a_view():
    x = ng.randn(3, 4)
    r = x.t().reshape(12)  # needs a copy
    r[0] = 100.0
    assert x[0, 0].item() != 100.0
    assert r._base is None
    v = x.reshape(12)  # no copy needed: a view, as in torch
    v[0] = 100.0
    assert x[0, 0].item() == 100.0


def test_inplace_on_reshape_copy_keeps_base_gradient():
    w0 = np.random.default_rng(0).standard_normal((3, 4))
    grads = []
    for lib in (ng, torch):
        w = lib.tensor(w0, requires_grad=True)
        y = w * 2
        z = y.t().reshape(12)  # a copy: the in-place op must not rewrite y's history
        z.mul_(3)
        (z.sum() * 5 + y.sum()).backward()
        grads.append(np.asarray(w.grad.detach().numpy() if lib is torch else w.grad.numpy()))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


def test_inplace_on_real_view_rewrites_base_gradient():
    w0 = np.random.default_rng(1).standard_normal((3, 4))
    grads = []
    for lib in (ng, torch):
        w = lib.tensor(w0, requires_grad=True)
        y = w * 2
        z = y.reshape(12)  # a view: the in-place op is visible through y
        z.mul_(3)
        (y.sum() + z.pow(2).sum()).backward()
        grads.append(np.asarray(w.grad.detach().numpy() if lib is torch else w.grad.numpy()))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)
