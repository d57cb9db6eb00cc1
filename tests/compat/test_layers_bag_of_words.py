"""End to end, tutorial-shaped: a bag-of-embeddings text classifier written once against ``m``
(``torch`` or ``numgrad``: the script runs by changing the import), built in both from the same
initial weights and trained a few SGD steps; losses, predictions, every parameter and the
BatchNorm running statistics must agree, and so must ``print(model)`` and the state_dict keys.

Own code, in the shape of the word-embedding tutorials: ``nn.Embedding`` with ``padding_idx``,
``nn.LayerNorm``, ``nn.BatchNorm1d``, ``nn.ELU``, ``nn.Dropout`` (p=0, so the two libraries'
random streams do not matter), ``F.pad`` as a collate step, ``F.kl_div``, ``model.eval()``.
"""

from __future__ import annotations

import numpy as np
import torch

import numgrad

VOCAB, DIM, CLASSES, PAD = 20, 8, 3, 0


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 7, 16)
    tokens = [rng.integers(1, VOCAB, n) for n in lengths]
    labels = np.array([int(t.sum()) % CLASSES for t in tokens])
    return tokens, labels


def build(m):
    nn = m.nn

    class BagOfWords(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, DIM, padding_idx=PAD)
            self.norm = nn.LayerNorm(DIM)
            self.head = nn.Sequential(
                nn.Linear(DIM, 16),
                nn.BatchNorm1d(16),
                nn.ELU(),
                nn.Dropout(0.0),
                nn.Linear(16, CLASSES),
            )

        def forward(self, ids):
            e = self.embed(ids)  # (N, L, DIM)
            mask = (ids != PAD).to(e.dtype).unsqueeze(-1)
            pooled = (e * mask).sum(1) / mask.sum(1)
            return self.head(self.norm(pooled))

    return BagOfWords().double()


def train(m, model, tokens, labels, steps=5):
    F = m.nn.functional
    # right-pad every sequence to the longest with F.pad, as a collate function would
    longest = max(len(t) for t in tokens)
    ids = m.stack([F.pad(m.tensor(t), (0, longest - len(t)), value=PAD) for t in tokens])
    y = m.tensor(labels)
    opt = m.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        logits = model(ids)
        # cross-entropy plus a KL term towards the uniform distribution (a smoothing regulariser)
        logp = F.log_softmax(logits, dim=1)
        uniform = m.full_like(logp, 1.0 / CLASSES)
        loss = F.cross_entropy(logits, y) + 0.1 * F.kl_div(logp, uniform, reduction="batchmean")
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with m.no_grad():
        pred = model(ids).argmax(1)
    return losses, pred


def test_bag_of_words_trains_like_torch():
    tokens, labels = make_data()
    torch.manual_seed(0)
    th_model, ng_model = build(torch), build(numgrad)
    assert repr(ng_model) == repr(th_model)
    assert list(ng_model.state_dict()) == list(th_model.state_dict())
    ng_model.load_state_dict(th_model.state_dict())  # the same initial weights
    th_losses, th_pred = train(torch, th_model, tokens, labels)
    ng_losses, ng_pred = train(numgrad, ng_model, tokens, labels)
    np.testing.assert_allclose(ng_losses, th_losses, rtol=1e-10)
    assert th_losses[-1] < th_losses[0]
    np.testing.assert_array_equal(ng_pred.numpy(), th_pred.numpy())
    for k, v in th_model.state_dict().items():
        np.testing.assert_allclose(
            ng_model.state_dict()[k].numpy(), v.numpy(), rtol=1e-9, atol=1e-12
        )
    assert int(ng_model.head[1].num_batches_tracked.item()) == 5
    # the padding row never moves
    np.testing.assert_array_equal(ng_model.embed.weight.detach().numpy()[PAD], 0)
