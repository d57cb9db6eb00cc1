"""End to end, in the shape of Karpathy's makemore (bigram counts, the one-hot neural bigram,
and the character-level MLP), written once against ``m`` (``torch`` or ``numgrad``).

Own code on a made-up word list: counts filled by ``N[ix1, ix2] += 1`` and normalised rows;
``F.one_hot`` inputs to a single weight matrix; the MLP's embedding lookup ``C[X]`` on a
parameter matrix, ``.view(-1, k)`` (checked against ``m.cat``), ``tanh``, ``F.cross_entropy``
and manual SGD with ``p.data += -lr * p.grad``; a second variant with ``nn.BatchNorm1d``.
Minibatch indices come from numpy (the libraries' generators differ by design), and so does
every initial weight; sampling with ``multinomial(probs, num_samples=1, generator=g)`` is only
checked for shape, dtype and range.  float64, compared after every step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numgrad

WORDS = (
    "emma olivia ava isabella sophia mia amelia harper evelyn abigail emily ella elizabeth "
    "camila luna sofia avery mila aria scarlett penelope layla chloe victoria madison eleanor "
    "grace nora riley zoey hannah hazel lily ellie violet lillian zoe stella aurora natalie "
    "emilia everly leah aubrey willow addison lucy audrey bella nova brooklyn paisley savannah"
).split()
CHARS = sorted(set("".join(WORDS)))
STOI = {s: i + 1 for i, s in enumerate(CHARS)}
STOI["."] = 0
ITOS = {i: s for s, i in STOI.items()}
V = len(STOI)
BLOCK, EMB, HIDDEN = 3, 10, 64


def build_dataset():
    xs, ys = [], []
    for w in WORDS:
        context = [0] * BLOCK
        for ch in w + ".":
            ix = STOI[ch]
            xs.append(context)
            ys.append(ix)
            context = context[1:] + [ix]
    return np.array(xs), np.array(ys)


def bigrams():
    pairs = [(STOI[a], STOI[b]) for w in WORDS for a, b in zip("." + w, w + ".")]
    return np.array(pairs).T


def init_weights(seed=2147483647):
    rng = np.random.default_rng(seed)
    return {
        "C": rng.standard_normal((V, EMB)),
        "W1": rng.standard_normal((BLOCK * EMB, HIDDEN)) * (5 / 3) / (BLOCK * EMB) ** 0.5,
        "b1": rng.standard_normal(HIDDEN) * 0.01,
        "W2": rng.standard_normal((HIDDEN, V)) * 0.01,
        "b2": np.zeros(V),
    }


def bigram_counts(m):
    xs, ys = (m.tensor(a) for a in bigrams())
    N = m.zeros((V, V), dtype=m.int32)
    for ix1, ix2 in zip(xs.tolist(), ys.tolist()):
        N[ix1, ix2] += 1
    P = (N + 1).double()
    P /= P.sum(1, keepdims=True)
    # the average negative log-likelihood of the training bigrams
    nll = -P[xs, ys].log().mean()
    return N.numpy(), P.numpy(), nll.item()


def neural_bigram(m, steps=10):
    F = m.nn.functional
    xs, ys = (m.tensor(a) for a in bigrams())
    W = m.tensor(np.random.default_rng(0).standard_normal((V, V)), requires_grad=True)
    history = []
    for _ in range(steps):
        xenc = F.one_hot(xs, num_classes=V).double()
        logits = xenc @ W
        counts = logits.exp()
        probs = counts / counts.sum(1, keepdims=True)
        loss = -probs[m.arange(xs.shape[0]), ys].log().mean() + 0.01 * (W**2).mean()
        W.grad = None
        loss.backward()
        W.data += -10 * W.grad
        history.append((loss.item(), [W.detach().numpy().copy()]))
    return history


def mlp(m, batchnorm, steps=12, batches=None):
    F = m.nn.functional
    X, Y = (m.tensor(a) for a in build_dataset())
    w = {k: m.tensor(v) for k, v in init_weights().items()}
    bn = m.nn.BatchNorm1d(HIDDEN).double() if batchnorm else None
    parameters = [w["C"], w["W1"], w["W2"], w["b2"]]
    parameters += list(bn.parameters()) if batchnorm else [w["b1"]]
    for p in parameters:
        p.requires_grad = True

    def forward(xb):
        emb = w["C"][xb]  # (B, BLOCK, EMB)
        flat = emb.view(-1, BLOCK * EMB)
        if xb.shape[0] > 1:
            cat = m.cat([emb[:, i, :] for i in range(BLOCK)], 1)
            np.testing.assert_array_equal(flat.detach().numpy(), cat.detach().numpy())
        hpre = flat @ w["W1"]
        h = m.tanh(bn(hpre)) if batchnorm else m.tanh(hpre + w["b1"])
        return h @ w["W2"] + w["b2"]

    # the tutorial's minibatch draw; its numbers differ between libraries, so numpy's are used
    g = m.Generator().manual_seed(2147483647)
    drawn = m.randint(0, X.shape[0], (32,), generator=g)
    assert tuple(drawn.shape) == (32,) and drawn.dtype == m.int64
    assert 0 <= drawn.min().item() and drawn.max().item() < X.shape[0]
    history = []
    for step in range(steps):
        ix = m.tensor(batches[step])
        logits = forward(X[ix])
        loss = F.cross_entropy(logits, Y[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if step < steps // 2 else 0.01
        for p in parameters:
            p.data += -lr * p.grad
        history.append((loss.item(), [p.detach().numpy().copy() for p in parameters]))
    if batchnorm:
        bn.eval()
        history.append((0.0, [bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()]))
    with m.no_grad():
        full = F.cross_entropy(forward(X), Y).item()

    # sample a few names: the generators differ by design, so check only shape, dtype, range
    g = m.Generator().manual_seed(2147483647)
    names = []
    with m.no_grad():
        for _ in range(3):
            out, context = [], [0] * BLOCK
            for _ in range(20):
                probs = F.softmax(forward(m.tensor([context])), dim=1)
                sample = m.multinomial(probs, num_samples=1, generator=g)
                assert tuple(sample.shape) == (1, 1) and sample.dtype == m.int64
                ix = sample.item()
                assert 0 <= ix < V
                context = context[1:] + [ix]
                if ix == 0:
                    break
                out.append(ITOS[ix])
            names.append("".join(out))
    assert all(set(n) <= set(CHARS) for n in names)
    return history, full


def compare(ours, theirs, rtol=1e-9):
    assert len(ours) == len(theirs)
    for (l1, p1), (l2, p2) in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(l1, l2, rtol=rtol)
        for a, b in zip(p1, p2, strict=True):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


def test_bigram_counts_and_one_hot_bigram_match_torch():
    ours, theirs = bigram_counts(numgrad), bigram_counts(torch)
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[0].dtype == theirs[0].dtype == np.int32
    assert ours[0].sum() == sum(len(w) + 1 for w in WORDS)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-12)
    ours, theirs = neural_bigram(numgrad), neural_bigram(torch)
    compare(ours, theirs)
    assert ours[-1][0] < ours[0][0]


@pytest.mark.parametrize("batchnorm", [False, True], ids=["mlp", "batchnorm"])
def test_makemore_mlp_matches_torch(batchnorm):
    n = len(build_dataset()[1])
    rng = np.random.default_rng(42)
    batches = [rng.integers(0, n, 32) for _ in range(12)]
    ours = mlp(numgrad, batchnorm, batches=batches)
    theirs = mlp(torch, batchnorm, batches=batches)
    compare(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-9)
    assert ours[1] < np.log(V)
