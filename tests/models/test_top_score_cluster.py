"""top_score_cluster: the exact 1-D k-means optimum against brute force."""
import itertools

import numpy as np
import pytest
import torch

from mmdet_csod.models.utils import top_score_cluster
from mmdet_csod.models.utils.pcl_clusters import TIE_RTOL


def _sse(vals):
    vals = np.asarray(vals, dtype=np.float64)
    return float(((vals - vals.mean())**2).sum()) if len(vals) else 0.


def _split_costs(sorted_vals, k, cut_points):
    """(cost, top start) of every split of ``sorted_vals`` into k
    contiguous non-empty segments with cuts among ``cut_points``."""
    n = len(sorted_vals)
    out = []
    for cuts in itertools.combinations(cut_points, k - 1):
        bounds = (0, ) + cuts + (n, )
        cost = sum(
            _sse(sorted_vals[a:b]) for a, b in zip(bounds, bounds[1:]))
        out.append((cost, cuts[-1] if cuts else 0))
    return out


def _brute(values, k):
    """Brute-force mask: all contiguous splits of the sorted values into
    min(k, distinct) segments, cutting only between distinct values; the
    top segment of the least cost (ties within TIE_RTOL of the total sum
    of squares: the smallest)."""
    values = np.asarray(values, dtype=np.float64)
    srt = np.sort(values)
    k = min(k, len(np.unique(srt)))
    if k <= 1:
        return np.ones(len(values), dtype=bool)
    between = [i for i in range(1, len(srt)) if srt[i - 1] < srt[i]]
    splits = _split_costs(srt, k, between)
    best = min(c for c, _ in splits)
    tol = TIE_RTOL * _sse(srt)
    start = max(t for c, t in splits if c <= best + tol)
    # no split at all (cutting through equal values too) does better
    anywhere = _split_costs(srt, k, range(1, len(srt)))
    assert min(c for c, _ in anywhere) >= best - tol
    return values >= srt[start]


def _dense_dp(values, k):
    """O(k n^2) dynamic programme written out (numpy), same tie rule."""
    uniq, counts = np.unique(np.asarray(values, np.float64),
                             return_counts=True)
    m = len(uniq)
    k = min(k, m)
    if k <= 1:
        return np.ones(len(values), dtype=bool)
    x = uniq - (uniq * counts).sum() / counts.sum()
    s1 = np.concatenate([[0], np.cumsum(counts * x)])
    s2 = np.concatenate([[0], np.cumsum(counts * x * x)])
    w = np.concatenate([[0], np.cumsum(counts)])
    lo, hi = np.meshgrid(np.arange(m + 1), np.arange(m + 1), indexing='ij')
    with np.errstate(divide='ignore', invalid='ignore'):
        cost = s2[hi] - s2[lo] - (s1[hi] - s1[lo])**2 / (w[hi] - w[lo])
    cost = np.where(hi > lo, np.maximum(cost, 0), np.inf)  # cost[lo, hi]
    best = cost[0]
    for _ in range(2, k):
        best = (best[:, None] + cost).min(axis=0)
    total = best[:m] + cost[:m, m]
    start = np.flatnonzero(total <= total.min() + TIE_RTOL * s2[m]).max()
    return np.asarray(values) >= uniq[start]


def test_minimal_case_keeps_only_the_top_score():
    """Heavy tail: the quantile-initialised Lloyd iterations kept {.2, .5}
    (two centroids on the 0.001 pile); the optimum is {.001 .. .012},
    {.2}, {.5}."""
    vals = [0.001] * 20 + [0.01, 0.012, 0.2, 0.5]
    for dtype in (torch.float32, torch.float64):
        keep = top_score_cluster(torch.tensor(vals, dtype=dtype), 3)
        assert keep.dtype == torch.bool and keep.shape == (24, )
        assert torch.tensor(vals)[keep].tolist() == [0.5]
    perm = torch.randperm(24, generator=torch.Generator().manual_seed(0))
    shuffled = torch.tensor(vals)[perm]
    assert shuffled[top_score_cluster(shuffled, 3)].tolist() == [0.5]
    assert _brute(vals, 3).tolist() == [False] * 23 + [True]
    # strictly better than the best partition whose top is {.2, .5}
    best_rest = min(c for c, _ in _split_costs(vals[:22], 2, range(1, 22)))
    assert _sse(vals[:22]) < best_rest + _sse([.2, .5])


def test_one_cluster_keeps_everything():
    vals = torch.tensor([.9, .1, .2, .2])
    assert top_score_cluster(vals, 1).all()
    assert top_score_cluster(vals, 0).all()
    assert top_score_cluster(torch.full((5, ), .3), 3).all()


@pytest.mark.parametrize('k', [1, 2, 3, 4, 7])
def test_n_at_most_k_and_few_distinct_values(k):
    # n <= k: each distinct value its own cluster -> only the maximum
    assert top_score_cluster(torch.tensor([.7]), k).tolist() == [True]
    vals = torch.tensor([.2, .9, .5])[:k]
    expect = (vals == vals.max()).tolist() if k > 1 else [True] * len(vals)
    assert top_score_cluster(vals, k).tolist() == expect
    # k >= distinct values (4 values, 2 distinct): the maxima together
    vals = torch.tensor([.4, .8, .4, .8])
    expect = [False, True, False, True] if k >= 2 else [True] * 4
    assert top_score_cluster(vals, k).tolist() == expect
    assert top_score_cluster(torch.zeros(0), k).shape == (0, )


def test_tie_rule_keeps_the_smaller_top_cluster():
    # [0, 1, 2], k = 2: {0}, {1, 2} and {0, 1}, {2} both cost .5
    assert top_score_cluster(torch.tensor([2., 0., 1.]), 2).tolist() == [
        True, False, False
    ]
    # the same tie in decimals that floats do not hit exactly
    vals = torch.tensor([.1, .2, .3], dtype=torch.float64)
    assert top_score_cluster(vals, 2).tolist() == [False, False, True]
    assert top_score_cluster(vals.float(), 2).tolist() == [False, False, True]
    # [0, 1, 2, 3, 4], k = 3: {0, 1}, {2, 3}, {4}; {0}, {1, 2}, {3, 4} and
    # {0, 1}, {2}, {3, 4} all cost 1: the top is {4}
    vals = torch.arange(5.)
    assert top_score_cluster(vals, 3).tolist() == _brute(vals.numpy(),
                                                         3).tolist()
    assert top_score_cluster(vals, 3).tolist() == [False] * 4 + [True]


def test_scale_shift_and_permutation():
    gen = torch.Generator().manual_seed(1)
    vals = torch.rand(50, generator=gen, dtype=torch.float64)**5
    keep = top_score_cluster(vals, 3)
    assert keep.any() and not keep.all()
    assert torch.equal(top_score_cluster(vals * 7 + 3, 3), keep)
    perm = torch.randperm(50, generator=gen)
    assert torch.equal(top_score_cluster(vals[perm], 3), keep[perm])
    # the top cluster is an upper interval of the values
    assert vals[keep].min() > vals[~keep].max()


def test_input_checks_and_no_grad():
    vals = torch.rand(6, requires_grad=True)
    assert top_score_cluster(vals, 3).shape == (6, )
    with pytest.raises(ValueError, match='1-D'):
        top_score_cluster(torch.rand(2, 3), 3)


def _random_values(rng, n, kind):
    if kind == 'uniform':
        return rng.random(n)
    if kind == 'heavy':  # most mass near 0, a few large
        return rng.random(n)**8
    if kind == 'lognormal':
        return rng.lognormal(-4, 2, n)
    if kind == 'ties':  # few distinct values, many repeats
        return rng.choice([.001, .001, .01, .2, .5, .5, .9], n)
    if kind == 'integers':  # exact ties of partition costs are frequent
        return rng.integers(0, 4, n).astype(np.float64)
    raise ValueError(kind)


@pytest.mark.parametrize('kind',
                         ['uniform', 'heavy', 'lognormal', 'ties', 'integers'])
def test_matches_brute_force_on_random_vectors(kind):
    rng = np.random.default_rng(['uniform', 'heavy', 'lognormal', 'ties',
                                 'integers'].index(kind))
    for _ in range(60):
        n = int(rng.integers(1, 12))
        k = int(rng.integers(1, 6))
        vals = _random_values(rng, n, kind)
        for dtype in (torch.float64, torch.float32):
            tensor = torch.from_numpy(vals).to(dtype)
            got = top_score_cluster(tensor, k).tolist()
            ref = _brute(tensor.double().numpy(), k).tolist()
            assert got == ref, (vals.tolist(), k, dtype)


@pytest.mark.parametrize('seed', range(6))
def test_matches_dense_dp_on_larger_vectors(seed):
    """The divide-and-conquer layers (many levels) against the O(k n^2)
    programme."""
    rng = np.random.default_rng(50 + seed)
    n = int(rng.integers(40, 400))
    kind = ['uniform', 'heavy', 'lognormal', 'ties', 'integers'][seed % 5]
    vals = _random_values(rng, n, kind)
    for k in (2, 3, 4, 6):
        got = top_score_cluster(torch.from_numpy(vals), k).numpy()
        np.testing.assert_array_equal(got, _dense_dp(vals, k))
