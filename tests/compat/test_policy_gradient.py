"""End to end, in the shape of the REINFORCE example (``reinforce.py`` in pytorch/examples),
written once against ``m`` (``torch`` or ``numgrad``).

Own code: a policy net (Linear-ReLU-Linear-Softmax) over fixed synthetic episodes,
``distributions.Categorical(probs)``, ``log_prob`` of actions chosen by numpy (not sampled, so
both libraries see the same ones), returns discounted and normalised by hand, the loss
``-(log_probs * returns).sum()`` (also built per step with ``m.cat`` as the example does),
``optim.Adam`` for 5 updates, and ``entropy()``.  float64, compared after every step.
"""

from __future__ import annotations

import numpy as np
import torch

import numgrad

GAMMA, EPS, T, STATE, ACTIONS = 0.99, 1e-12, 24, 4, 3


def make_episodes(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (
            rng.standard_normal((T, STATE)),
            rng.integers(0, ACTIONS, T),
            rng.uniform(0, 1, T),
        )
        for _ in range(n)
    ]


def build(m):
    nn = m.nn
    return nn.Sequential(
        nn.Linear(STATE, 32), nn.ReLU(), nn.Linear(32, ACTIONS), nn.Softmax(dim=-1)
    ).double()


def discounted(rewards):
    R, returns = 0.0, []
    for r in rewards[::-1]:
        R = r + GAMMA * R
        returns.insert(0, R)
    return returns


def train(m, policy, episodes):
    Categorical = m.distributions.Categorical
    optimizer = m.optim.Adam(policy.parameters(), lr=1e-2)
    history = []
    for states, actions, rewards in episodes:
        returns = m.tensor(discounted(rewards))
        returns = (returns - returns.mean()) / (returns.std() + EPS)
        states, actions = m.tensor(states), m.tensor(actions)

        # step by step, as the example's select_action/finish_episode do
        policy_loss = []
        for t in range(T):
            probs = policy(states[t].unsqueeze(0))
            log_prob = Categorical(probs).log_prob(actions[t].unsqueeze(0))
            policy_loss.append(-log_prob * returns[t])
        stepwise = m.cat(policy_loss).sum()

        # the same loss over the whole episode at once
        dist = Categorical(policy(states))
        log_probs = dist.log_prob(actions)
        loss = -(log_probs * returns).sum()
        np.testing.assert_allclose(stepwise.item(), loss.item(), rtol=1e-12)
        entropy = dist.entropy()
        assert tuple(entropy.shape) == (T,)

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        record = [
            log_probs.detach().numpy(),
            entropy.detach().numpy(),
            dist.probs.detach().numpy(),
        ]
        record += [p.detach().numpy().copy() for p in policy.parameters()]
        history.append((loss.item(), record))
    return history


def test_reinforce_matches_torch():
    episodes = make_episodes()
    torch.manual_seed(0)
    th_policy, ng_policy = build(torch), build(numgrad)
    assert repr(ng_policy) == repr(th_policy)
    ng_policy.load_state_dict(th_policy.state_dict())
    ours, theirs = train(numgrad, ng_policy, episodes), train(torch, th_policy, episodes)
    assert len(ours) == len(theirs) == 5
    for (l1, r1), (l2, r2) in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(l1, l2, rtol=1e-9)
        for a, b in zip(r1, r2, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    # entropy of a categorical is at most log(k)
    assert (ours[0][1][1] <= np.log(ACTIONS) + 1e-12).all()
