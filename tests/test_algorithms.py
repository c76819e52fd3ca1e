"""prime_train.algorithms on hand-made tensors. Expected values come from hand arithmetic or from plain-Python
loop implementations written here, never from the functions under test."""

from __future__ import annotations

import math
import statistics

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from prime_train import algorithms as alg  # noqa: E402


def t(rows, dtype=torch.float64):
    return torch.tensor(rows, dtype=dtype)


# Two groups of K = 3, ragged right-padded masks, one row cut at length 1.
MASK = t([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 0, 0]])
REWARDS = t(
    [
        [0.5, -0.2, 0.1, 9.0],
        [0.3, 0.4, 9.0, 9.0],
        [-0.1, 0.2, 0.6, -0.3],
        [0.7, 9.0, 9.0, 9.0],
        [0.0, -0.4, 0.2, 9.0],
        [0.25, 0.05, 9.0, 9.0],
    ]
)  # 9.0 sits on invalid positions and must never leak in
OUTCOME = t([1.0, 0.0, 1.0, 0.0, 0.0, 1.0])


# ---------------------------------------------------------------- loop references (independent of the module)


def loop_rloo(rewards, outcome, mask, k, gamma, variant, outcome_gamma=None, process_coef=1.0, outcome_coef=1.0):
    """Per-token loops: docs/algorithm.md §rloo's `v*K/(K-1) - sum_j m_j/(K-1)` or Eq. 5's `v - mean_{j!=i} m_j`."""
    r, o, m = rewards.tolist(), outcome.tolist(), mask.tolist()
    if outcome_gamma is None:
        outcome_gamma = gamma if variant == "reference" else 1.0
    b, n = len(r), len(r[0])
    valid = [[m[i][s] != 0 for s in range(n)] for i in range(b)]
    means = []
    for i in range(b):
        vals = [r[i][s] for s in range(n) if valid[i][s]]
        means.append(sum(vals) / len(vals) if vals else 0.0)
    out = [[0.0] * n for _ in range(b)]
    for i in range(b):
        g0 = (i // k) * k
        others = [j for j in range(g0, g0 + k) if j != i]
        proc = [0.0] * n
        for s in range(n):
            if not valid[i][s]:
                continue
            if variant == "reference":
                proc[s] = r[i][s] * k / (k - 1) - sum(means[j] for j in range(g0, g0 + k)) / (k - 1)
            else:
                proc[s] = r[i][s] - sum(means[j] for j in others) / (k - 1)
        o_adv = o[i] - sum(o[j] for j in others) / (k - 1)
        last = max((s for s in range(n) if valid[i][s]), default=None)
        for s in range(n):
            if not valid[i][s]:
                continue
            ret_p = sum(gamma ** (u - s) * proc[u] for u in range(s, n))
            ret_o = outcome_gamma ** (last - s) * o_adv
            out[i][s] = process_coef * ret_p + outcome_coef * ret_o
    return t(out)


def loop_whiten(x, mask):
    vals = [v for v, mm in zip(x.flatten().tolist(), mask.flatten().tolist()) if mm]
    mu, var = statistics.mean(vals), statistics.variance(vals)
    return t(
        [
            [(v - mu) / math.sqrt(var + 1e-8) if mm else 0.0 for v, mm in zip(rx, rm)]
            for rx, rm in zip(x.tolist(), mask.tolist())
        ]
    )


# ---------------------------------------------------------------- implicit rewards and normalisation


def test_implicit_process_rewards_masked_and_whole():
    logp_prm = t([[-1.0, -2.0, -0.5], [-0.3, -7.0, -8.0]])
    logp_ref = t([[-1.5, -1.0, -0.5], [-0.1, 0.0, 0.0]])
    mask = t([[1, 1, 1], [1, 0, 0]])
    q = alg.implicit_process_rewards(logp_prm, logp_ref, mask)
    assert torch.allclose(q, t([[0.5, -1.0, 0.0], [-0.2, 0.0, 0.0]]))
    whole = alg.implicit_process_rewards(logp_prm, logp_ref, mask, granularity="whole")
    assert torch.allclose(whole, t([[0.0, 0.0, -0.5], [-0.2, 0.0, 0.0]]))
    empty = alg.implicit_process_rewards(logp_prm, logp_ref, torch.zeros(2, 3), granularity="whole")
    assert torch.equal(empty, torch.zeros(2, 3, dtype=torch.float64))


def test_normalize_process_rewards_batch_denominator():
    q = t([[1.0, -3.0, 0.5, 100.0], [2.0, 1.0, 0.0, 0.0]])
    mask = t([[1, 1, 1, 0], [1, 1, 0, 0]])
    # reverse cumsums: row 0 -> [-1.5, -2.5, 0.5], row 1 -> [3, 1]; the max |.| is 3 (the 100 is padding)
    out = alg.normalize_process_rewards(q, mask)
    expected = t([[1.0, -3.0, 0.5, 0.0], [2.0, 1.0, 0.0, 0.0]]) / (3.0 + 1e-6)
    assert torch.allclose(out, expected)


# ---------------------------------------------------------------- PRM losses and metric


def test_prm_ce_loss_binary_and_fractional():
    q = t([[2.0, 4.0, 50.0], [-10.0, 0.0, 0.0], [1.0, 1.0, 1.0], [6.0, -2.0, 0.0]])
    mask = t([[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 1, 0]])
    sums = [6.0, -10.0, 3.0, 4.0]
    for labels, beta in (([1.0, 0.0, 1.0, 0.0], 0.05), ([0.25, 0.6, 1.0, 0.0], 0.3)):
        p = [1 / (1 + math.exp(-beta * s)) for s in sums]
        by_hand = -sum(y * math.log(pp) + (1 - y) * math.log(1 - pp) for y, pp in zip(labels, p)) / 4
        torch_bce = F.binary_cross_entropy(t(p), t(labels))
        got = alg.prm_ce_loss(q, mask, t(labels), beta=beta)
        assert got.item() == pytest.approx(by_hand, rel=1e-10)
        assert got.item() == pytest.approx(torch_bce.item(), rel=1e-10)


def test_prm_dpo_loss_two_groups_by_hand():
    # Group A labels [1, 0, 0.5], sums [2, -1, 0.5]; group B all 0, sums [1, -2, 0]; beta = 0.5.
    # A0 (o>0): others lower = rows 1, 2 -> other = 0.5 * mean(-1, 0.5) = -0.125; x = (1.0 + 0.125) * +1
    # A1 (o=0): others higher = rows 0, 2 -> other = 0.5 * 1.25 = 0.625;       x = (-0.5 - 0.625) * -1
    # A2 (o>0): others lower = row 1 -> other = -0.5;                           x = (0.25 + 0.5) * +1
    # B*: nobody higher -> other = 0, sign -1: x = -0.5, 1.0, 0.0
    q = t([[2.0, 0.0], [-1.0, 0.0], [0.25, 0.25], [1.0, 7.0], [-1.0, -1.0], [0.0, 3.0]])
    mask = t([[1, 0], [1, 0], [1, 1], [1, 0], [1, 1], [1, 0]])
    labels = t([1.0, 0.0, 0.5, 0.0, 0.0, 0.0])
    xs = [1.125, 1.125, 0.75, -0.5, 1.0, 0.0]
    by_hand = sum(math.log(1 + math.exp(-x)) for x in xs) / 6
    got = alg.prm_dpo_loss(q, mask, labels, group_size=3, beta=0.5)
    assert got.item() == pytest.approx(by_hand, rel=1e-10)


def test_prm_pairwise_accuracy_by_hand():
    # Group A labels [1, 0, 0.5], sums [2, -1, 3]: pairs (0,1) right w=1, (0,2) wrong w=0.5, (1,2) right w=0.5
    # -> 1.5 / 2 = 0.75. Group B: all labels equal -> 0.5. Mean 0.625.
    q = t([[2.0, 0.0], [-1.0, 0.0], [1.0, 2.0], [1.0, 0.0], [5.0, 0.0], [-3.0, 0.0]])
    mask = t([[1, 0], [1, 0], [1, 1], [1, 0], [1, 0], [1, 0]])
    labels = t([1.0, 0.0, 0.5, 1.0, 1.0, 1.0])
    assert alg.prm_pairwise_accuracy(q, mask, labels, group_size=3).item() == pytest.approx(0.625)
    # A tie in the sums counts as right when o_i < o_j (the reference compares `ds > 0` with `do > 0`):
    # labels [0, 1, 1], sums [1, 1, 0]: (0,1) tie, o_0 < o_1 -> right w=1; (0,2) wrong w=1; (1,2) w=0 -> 0.5
    tie = alg.prm_pairwise_accuracy(t([[1.0], [1.0], [0.0]]), t([[1], [1], [1]]), t([0.0, 1.0, 1.0]), 3)
    assert tie.item() == pytest.approx(0.5)


# ---------------------------------------------------------------- RLOO advantages


@pytest.mark.parametrize("variant", ["reference", "paper"])
@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_rloo_matches_loop(variant, gamma):
    adv, ret = alg.rloo_advantages(REWARDS, OUTCOME, MASK, group_size=3, gamma=gamma, variant=variant)
    expected = loop_rloo(REWARDS, OUTCOME, MASK, 3, gamma, variant)
    assert torch.allclose(ret, expected, atol=1e-12)
    assert torch.allclose(adv, loop_whiten(expected, MASK), atol=1e-9)


def test_rloo_coefficients_and_outcome_gamma():
    kw = dict(group_size=3, gamma=0.8, whiten=False, process_coef=2.0, outcome_coef=0.5, outcome_gamma=0.5)
    for variant in ("reference", "paper"):
        _, ret = alg.rloo_advantages(REWARDS, OUTCOME, MASK, variant=variant, **kw)
        expected = loop_rloo(
            REWARDS, OUTCOME, MASK, 3, 0.8, variant, outcome_gamma=0.5, process_coef=2.0, outcome_coef=0.5
        )
        assert torch.allclose(ret, expected, atol=1e-12)


def test_rloo_reference_token_formula_by_hand():
    # One group, K = 2, full masks. m = [1, 3]; reference token value v*2 - (1 + 3) = 2v - 4.
    r = t([[0.0, 2.0], [3.0, 3.0]])
    _, ret = alg.rloo_advantages(r, t([0.0, 0.0]), torch.ones(2, 2), group_size=2, whiten=False)
    assert torch.allclose(ret, t([[-4.0 + 0.0, 0.0], [4.0, 2.0]]))
    # paper: v - m_other -> row 0: [-3, -1] -> returns [-4, -1]; row 1: [2, 2] -> [4, 2]
    _, ret_p = alg.rloo_advantages(r, t([0.0, 0.0]), torch.ones(2, 2), group_size=2, whiten=False, variant="paper")
    assert torch.allclose(ret_p, t([[-4.0, -1.0], [4.0, 2.0]]))


def test_per_token_baselines_pay_for_length_and_the_sequence_baseline_does_not():
    # Issue 16: K = 2, no outcome signal. The short row's tokens score -0.1 each (sum -0.2), the long row's -0.05
    # each (sum -0.3): the PRM likes the short response better. A per-token baseline, subtracted once per token,
    # hands the long row +0.05 for each of its 6 tokens and ranks it first.
    r = t([[-0.1, -0.1, 0, 0, 0, 0], [-0.05] * 6])
    mask = t([[1, 1, 0, 0, 0, 0], [1] * 6])
    zero = t([0.0, 0.0])
    for variant in ("reference", "paper"):
        _, ret = alg.rloo_advantages(r, zero, mask, group_size=2, whiten=False, variant=variant)
        assert ret[1, 0] > ret[0, 0], variant  # the bias the sequence variant removes
    _, ret = alg.rloo_advantages(r, zero, mask, group_size=2, whiten=False, variant="sequence")
    # first-token return S_i - mean_{j!=i} S_j; later tokens: the reward still to come minus the same baseline
    assert torch.allclose(ret, t([[0.1, 0.2, 0, 0, 0, 0], [-0.1, -0.05, 0.0, 0.05, 0.1, 0.15]]), atol=1e-6)


def test_sequence_baseline_first_token_return_is_length_blind_leave_one_out():
    kw = dict(group_size=3, whiten=False, outcome_coef=0.0)
    _, ret = alg.rloo_advantages(REWARDS, OUTCOME, MASK, variant="sequence", **kw)
    sums = (REWARDS * MASK).sum(dim=1).view(2, 3)
    loo = sums - (sums.sum(dim=1, keepdim=True) - sums) / 2
    assert torch.allclose(ret[:, 0], loo.reshape(-1), atol=1e-12)
    _, with_outcome = alg.rloo_advantages(REWARDS, OUTCOME, MASK, variant="sequence", group_size=3, whiten=False)
    outcome_only = with_outcome - ret
    _, ref_outcome = alg.rloo_advantages(torch.zeros_like(REWARDS), OUTCOME, MASK, group_size=3, whiten=False)
    assert torch.allclose(outcome_only, ref_outcome, atol=1e-12)  # the outcome source is the reference's


def test_code_differs_from_paper_only_inside_the_response():
    _, ref = alg.rloo_advantages(REWARDS, OUTCOME, MASK, group_size=3, whiten=False, variant="reference")
    _, pap = alg.rloo_advantages(REWARDS, OUTCOME, MASK, group_size=3, whiten=False, variant="paper")
    # The extra term (v - m_i)/(K-1) sums to zero over a response: first-token returns coincide (§rloo) ...
    assert torch.allclose(ref[:, 0], pap[:, 0], atol=1e-12)
    # ... but intermediate tokens differ.
    inner = MASK.clone()
    inner[:, 0] = 0
    assert (ref - pap)[inner.bool()].abs().max() > 1e-3


def test_outcome_sits_on_last_valid_token_ragged():
    zero_r = torch.zeros_like(REWARDS)
    out = t([1.0, 0.0, 0.5, 0.0, 0.0, 0.0])
    _, ret = alg.rloo_advantages(zero_r, out, MASK, group_size=3, gamma=0.5, whiten=False)
    # group 0: o - mean(others) = [0.75, -0.75, 0.0]; discounted back from each row's last valid token
    expected = t(
        [
            [0.75 * 0.25, 0.75 * 0.5, 0.75, 0.0],
            [-0.75 * 0.5, -0.75, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    assert torch.allclose(ret, expected)
    # The paper variant does not discount the outcome (Eq. 5): constant over each valid response.
    _, ret_p = alg.rloo_advantages(zero_r, out, MASK, group_size=3, gamma=0.5, whiten=False, variant="paper")
    assert torch.allclose(ret_p[0], t([0.75, 0.75, 0.75, 0.0]))
    assert torch.allclose(ret_p[1], t([-0.75, -0.75, 0.0, 0.0]))


def test_whitening_statistics_over_valid_tokens():
    adv, ret = alg.rloo_advantages(REWARDS, OUTCOME, MASK, group_size=3)
    vals = adv[MASK.bool()].tolist()
    assert statistics.mean(vals) == pytest.approx(0.0, abs=1e-12)
    assert statistics.variance(vals) == pytest.approx(1.0, rel=1e-6)
    assert torch.equal(adv[~MASK.bool()], torch.zeros_like(adv[~MASK.bool()]))
    assert torch.equal(ret[~MASK.bool()], torch.zeros_like(ret[~MASK.bool()]))
    assert not torch.allclose(ret, adv)  # returns are stored un-whitened
    raw, _ = alg.rloo_advantages(REWARDS, OUTCOME, MASK, group_size=3, whiten=False)
    assert torch.equal(raw, ret)


def test_rloo_empty_row_is_finite_and_zero():
    mask = MASK.clone()
    mask[1] = 0
    adv, ret = alg.rloo_advantages(REWARDS, OUTCOME, mask, group_size=3)
    assert torch.isfinite(adv).all() and torch.isfinite(ret).all()
    assert torch.equal(ret[1], torch.zeros(4, dtype=torch.float64))
    # the empty row's m = 0 and its score still enter the others' baselines
    assert torch.allclose(ret, loop_rloo(REWARDS, OUTCOME, mask, 3, 1.0, "reference"), atol=1e-12)


def test_rloo_validation():
    with pytest.raises(ValueError, match="divisible"):
        alg.rloo_advantages(REWARDS, OUTCOME, MASK, group_size=4)
    with pytest.raises(ValueError, match=">= 2"):
        alg.rloo_advantages(REWARDS, OUTCOME, MASK, group_size=1)
    with pytest.raises(ValueError, match="shape"):
        alg.rloo_advantages(REWARDS[:, :3], OUTCOME, MASK, group_size=3)
    with pytest.raises(ValueError, match=r"\[batch\]"):
        alg.rloo_advantages(REWARDS, OUTCOME[:5], MASK, group_size=3)
    with pytest.raises(ValueError, match="variant"):
        alg.rloo_advantages(REWARDS, OUTCOME, MASK, group_size=3, variant="grpo")
    with pytest.raises(ValueError, match="gamma"):
        alg.rloo_advantages(REWARDS, OUTCOME, MASK, group_size=3, gamma=1.5)
    with pytest.raises(ValueError, match="granularity"):
        alg.implicit_process_rewards(REWARDS, REWARDS, MASK, granularity="step")
    with pytest.raises(ValueError, match="divisible"):
        alg.prm_dpo_loss(REWARDS, MASK, OUTCOME, group_size=4)
    with pytest.raises(ValueError, match="divisible"):
        alg.accuracy_filter(OUTCOME, group_size=4)


# ---------------------------------------------------------------- policy loss


def loop_ppo(logp, old, adv, mask, eps):
    losses, fracs = [], []
    for lp_r, o_r, a_r, m_r in zip(logp.tolist(), old.tolist(), adv.tolist(), mask.tolist()):
        toks, clips = [], []
        for lp, o, a, m in zip(lp_r, o_r, a_r, m_r):
            if not m:
                continue
            rho = math.exp(lp - o)
            un, cl = -a * rho, -a * min(max(rho, 1 - eps), 1 + eps)
            toks.append(max(un, cl))
            clips.append(1.0 if cl > un else 0.0)
        if toks:
            losses.append(sum(toks) / len(toks))
            fracs.append(sum(clips) / len(clips))
    return sum(losses) / len(losses), sum(fracs) / len(fracs)


def test_ppo_clip_loss_matches_loop_and_clip_fraction():
    g = torch.Generator().manual_seed(0)
    logp = -torch.rand(4, 6, generator=g, dtype=torch.float64)
    old = logp + 0.4 * torch.randn(4, 6, generator=g, dtype=torch.float64)
    adv = torch.randn(4, 6, generator=g, dtype=torch.float64)
    mask = t([[1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0]])
    logp[2] = float("-inf")  # an empty row with garbage log-probs must not poison the mean
    loss, frac = alg.ppo_clip_loss(logp, old, adv, mask, clip_eps=0.2)
    exp_loss, exp_frac = loop_ppo(logp, old, adv, mask, 0.2)
    assert loss.item() == pytest.approx(exp_loss, rel=1e-10)
    assert frac.item() == pytest.approx(exp_frac, rel=1e-10)


def test_clip_fraction_counts_only_the_side_that_matters():
    # rho = [1.5, 0.5, 0.5, 1.5, 1.5]; A = [+, +, -, -, 0]: clipping bites on tokens 0 (A>0, rho>1+eps) and 2
    # (A<0, rho<1-eps) only.
    logp = torch.log(t([[1.5, 0.5, 0.5, 1.5, 1.5]]))
    old = torch.zeros(1, 5, dtype=torch.float64)
    adv = t([[1.0, 1.0, -1.0, -1.0, 0.0]])
    loss, frac = alg.ppo_clip_loss(logp, old, adv, torch.ones(1, 5))
    assert frac.item() == pytest.approx(2 / 5)
    # per token: -1.2, -0.5, 0.8 (max(0.5, 0.8)), 1.5, 0
    assert loss.item() == pytest.approx((-1.2 - 0.5 + 0.8 + 1.5 + 0.0) / 5)


# ---------------------------------------------------------------- prompt filter


def test_accuracy_filter_inclusive_bounds_k5():
    scores = torch.tensor(
        [
            [0.0, 0.0, 0.0, 0.0, 1.0],  # 0.2: kept
            [1.0, 1.0, 1.0, 1.0, 0.0],  # 0.8: kept
            [0.2, 0.2, 0.2, 0.2, 0.2],  # 0.2 with fractional scores: kept
            [0.1, 0.3, 0.6, 0.9, 0.1],  # 0.4: kept
            [0.0, 0.0, 0.0, 0.0, 0.95],  # 0.19: dropped
            [1.0, 1.0, 1.0, 1.0, 0.05],  # 0.81: dropped
            [0.0, 0.0, 0.0, 0.0, 0.0],  # dropped
            [1.0, 1.0, 1.0, 1.0, 1.0],  # dropped
        ],
        dtype=torch.float32,
    ).flatten()
    keep = alg.accuracy_filter(scores, group_size=5)
    assert keep.tolist() == [True, True, True, True, False, False, False, False]


# ---------------------------------------------------------------- gradients


def test_gradients_flow():
    logp_prm = t([[-1.0, -2.0, -3.0], [-0.5, -0.5, -9.0]]).requires_grad_()
    logp_ref = t([[-1.2, -1.8, -3.0], [-0.4, -0.7, -1.0]])
    mask = t([[1, 1, 1], [1, 1, 0]])
    q = alg.implicit_process_rewards(logp_prm, logp_ref, mask)
    alg.prm_ce_loss(q, mask, t([1.0, 0.0])).backward()
    assert logp_prm.grad is not None
    assert (logp_prm.grad[mask.bool()] != 0).all() and logp_prm.grad[1, 2] == 0
    # d/dS BCE(sigmoid(beta S), y) = beta (p - y) / N for every valid token of the row
    s0 = (-1.0 + 1.2) + (-2.0 + 1.8) + (-3.0 + 3.0)  # row 0's sum of q
    assert logp_prm.grad[0, 0].item() == pytest.approx(0.05 * (1 / (1 + math.exp(-0.05 * s0)) - 1) / 2)

    logp = t([[-1.0, -1.0, -1.0]]).requires_grad_()
    old = t([[-1.0, -1.0 - math.log(1.5), -1.0]])  # rho = [1, 1.5, 1]
    loss, _ = alg.ppo_clip_loss(logp, old, t([[1.0, 1.0, 1.0]]), t([[1, 1, 0]]))
    loss.backward()
    # token 0: rho = 1 -> grad -A*rho/2 = -0.5; token 1: rho = 1.5 > 1.2 with A > 0 -> clipped, no gradient
    assert logp.grad[0].tolist() == pytest.approx([-0.5, 0.0, 0.0])

    # the DPO variant: gradient reaches the live sums only (the comparison term is detached)
    logp_prm.grad = None
    q = alg.implicit_process_rewards(logp_prm, logp_ref, mask)
    alg.prm_dpo_loss(q, mask, t([1.0, 0.0]), group_size=2).backward()
    assert (logp_prm.grad[mask.bool()] != 0).all() and logp_prm.grad[1, 2] == 0


def test_empty_rows_never_nan():
    mask = t([[0, 0, 0], [1, 1, 0]])
    q = t([[1.0, 2.0, 3.0], [0.5, -0.5, 7.0]])
    assert torch.isfinite(alg.normalize_process_rewards(q, mask)).all()
    assert torch.isfinite(alg.prm_ce_loss(q, mask, t([0.0, 1.0])))
    assert torch.isfinite(alg.prm_dpo_loss(q, mask, t([0.0, 1.0]), group_size=2))
    loss, frac = alg.ppo_clip_loss(q, q, q, torch.zeros(2, 3))
    assert loss.item() == 0.0 and frac.item() == 0.0
