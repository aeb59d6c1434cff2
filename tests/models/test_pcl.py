"""PCL's proposal clusters: worked cases and a reference (the loss:
test_pcl_loss.py)."""
import itertools

import numpy as np
import pytest
import torch
from oicr_reference import box_iou

from mmdet_csod.models.losses import PCLLoss
from mmdet_csod.models.utils.pcl_clusters import (TIE_RTOL,
                                                  pcl_proposal_clusters,
                                                  pcl_targets,
                                                  top_score_cluster)

# Worked case: 8 proposals, 2 classes, both present, default parameters
# (graph_iou_thr=0.4, max_centers=5, min_remaining=5, top_k_means=3,
# fg_iou_thr=0.5, bg_iou_thr=0.1).
#
#   p0 [0, 0, 10, 10]   p4 [30, 0, 40, 10]
#   p1 [0, 0, 10, 8]    p5 [30, 0, 40, 7]
#   p2 [0, 0, 10, 6]    p6 [6, 0, 16, 10]
#   p3 [0, 5, 10, 10]   p7 [60, 0, 70, 10]
#
# IoUs: p0-p1 .8, p0-p2 .6, p0-p3 .5, p1-p2 .75, p1-p3 .3, p2-p3 .1,
# p4-p5 .7, p0-p6 .25, p7 overlaps nothing.
#
# Class 0 scores [.85, .9, .88, .86, .02, .01, .3, .03]. Optimal k-means
# (k = 3) of the 8 scores: {.01, .02, .03}, {.3}, {.85, .86, .88, .9}
# (sum of squares .0017; with the top four split and the low four together
# it is .059); top = {p0..p3}.
# Graph (IoU > .4): p0-p1, p0-p2, p0-p3, p1-p2 -> degrees p0 3, p1 2, p2 2,
# p3 1. p0 has the highest degree (not the highest score): centre p0 of
# score max(.85, .9, .88, .86) = .9; it and its neighbours leave the
# graph, 0 <= 5 nodes remain: stop. Class 0 centres: [p0 (.9)].
#
# Class 1 scores [.95, .01, .2, .01, .8, .85, .02, .02]; p0 is a class-0
# centre, so the candidates are p1..p7: optimal k-means of
# [.01, .2, .01, .8, .85, .02, .02]: {.01, .01, .02, .02}, {.2}, {.8, .85}
# (.0014; {.8}, {.85} apart and .2 with the low ones: .0275) -> top
# {p4, p5}.
# Graph: p4-p5, degrees 1 and 1: the tie goes to the higher score, p5;
# score max(.8, .85) = .85. Class 1 centres: [p5 (.85)].
#
# Clusters 0 (p0, class 0, .9) and 1 (p5, class 1, .85):
#   p0 IoU 1 with p0, p1 .8, p2 .6, p3 .5 (= fg_iou_thr: in) -> cluster 0
#   p4 .7 with p5, p5 1 -> cluster 1
#   p6 .25 with p0 -> background, weight .9
#   p7 0 -> ignored, weight 0
WORKED_PROPS = [[0, 0, 10, 10], [0, 0, 10, 8], [0, 0, 10, 6], [0, 5, 10, 10],
                [30, 0, 40, 10], [30, 0, 40, 7], [6, 0, 16, 10],
                [60, 0, 70, 10]]
WORKED_SCORES = [[.85, .9, .88, .86, .02, .01, .3, .03],
                 [.95, .01, .2, .01, .8, .85, .02, .02]]


def _worked():
    return (torch.tensor(WORKED_PROPS, dtype=torch.float),
            torch.tensor(WORKED_SCORES).T.contiguous())


def test_worked_case():
    props, scores = _worked()
    res = pcl_proposal_clusters(props, scores, torch.tensor([1., 1.]))
    assert res.labels.tolist() == [0, 0, 0, 0, 1, 1, 2, 2]
    assert res.weights.tolist() == pytest.approx(
        [.9, .9, .9, .9, .85, .85, .9, 0.])
    assert res.cluster_ids.tolist() == [0, 0, 0, 0, 1, 1, -1, -1]
    assert res.cluster_labels.tolist() == [0, 1]
    assert res.cluster_scores.tolist() == pytest.approx([.9, .85])
    assert res.cluster_sizes.tolist() == [4, 2]
    assert res.cluster_centers.tolist() == [0, 5]
    assert res.labels.dtype == res.cluster_ids.dtype == torch.long


def test_worked_case_thresholds():
    props, scores = _worked()
    # fg_iou_thr .55: p3 (IoU .5) becomes background of weight .9
    res = pcl_proposal_clusters(
        props, scores, torch.tensor([1., 1.]), fg_iou_thr=.55)
    assert res.labels.tolist() == [0, 0, 0, 2, 1, 1, 2, 2]
    assert res.cluster_ids.tolist() == [0, 0, 0, -1, 1, 1, -1, -1]
    assert res.weights[3].item() == pytest.approx(.9)
    assert res.cluster_sizes.tolist() == [3, 2]
    # bg_iou_thr .25 (= IoU of p6): p6 still background; .3: ignored
    res = pcl_proposal_clusters(
        props, scores, torch.tensor([1., 1.]), bg_iou_thr=.25)
    assert res.weights[6].item() == pytest.approx(.9)
    res = pcl_proposal_clusters(
        props, scores, torch.tensor([1., 1.]), bg_iou_thr=.3)
    assert res.weights[6].item() == 0 and res.labels[6].item() == 2


def test_worked_case_one_class():
    props, scores = _worked()
    # only class 1 present: p0 is a candidate again; top cluster of
    # [.95, .01, .2, .01, .8, .85, .02, .02] is {p0, p4, p5} ({.01, .01,
    # .02, .02}, {.2}, {.8, .85, .95}: .0118; {.95} alone: .0288); graph:
    # p4-p5 only; degrees p0 0, p4 1, p5 1 -> centre p5 (.85), then one
    # node (p0) remains <= 5: stop. p0..p3 overlap nothing -> ignored.
    res = pcl_proposal_clusters(props, scores, torch.tensor([0., 1.]))
    assert res.cluster_centers.tolist() == [5]
    assert res.labels.tolist() == [2, 2, 2, 2, 1, 1, 2, 2]
    assert res.weights.tolist() == pytest.approx([0] * 4 + [.85] * 2 + [0] * 2)


def test_kmeans_top_cluster():
    # sorted [.05, .1, .45, .5, .88, .9]: optimum {.05, .1}, {.45, .5},
    # {.88, .9} (.0027). More cases in test_top_score_cluster.py.
    keep = top_score_cluster(torch.tensor([.9, .88, .5, .45, .1, .05]), 3)
    assert keep.tolist() == [True, True, False, False, False, False]
    # one cluster keeps everything; equal values stay together
    assert top_score_cluster(torch.tensor([.9, .1, .2]), 1).all()
    assert top_score_cluster(torch.full((4, ), .3), 3).all()
    assert top_score_cluster(torch.tensor([.7]), 3).tolist() == [True]


def test_low_scores_do_not_make_centres():
    # p1..p3 are a clique of low scores, p0 is alone with a high score.
    # k-means of [.9, .05, .05, .05] keeps {p0}: centre p0 (without the
    # k-means step the clique's p1 would win on degree).
    props = torch.tensor(
        [[0, 0, 10, 10], [20, 0, 30, 10], [20, 0, 30, 9], [20, 0, 30, 8]],
        dtype=torch.float)
    scores = torch.tensor([[.9], [.05], [.05], [.05]])
    res = pcl_proposal_clusters(props, scores, torch.tensor([1.]))
    assert res.cluster_centers.tolist() == [0]
    assert res.labels.tolist() == [0, 1, 1, 1]
    assert res.weights.tolist() == pytest.approx([.9, 0, 0, 0])


def test_centres_leave_later_classes():
    # class 0: k-means of [.9, .1, .05] -> {p0}: centre p0 (.9). Class 1
    # without p0: k-means of [.7, .05] -> {p1}: centre p1 (.7); were p0
    # still a candidate, class 1's top cluster would be {p0}.
    props = torch.tensor([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]],
                         dtype=torch.float)
    scores = torch.tensor([[.9, .8], [.1, .7], [.05, .05]])
    res = pcl_proposal_clusters(props, scores, torch.tensor([1., 1.]))
    assert res.cluster_centers.tolist() == [0, 1]
    assert res.cluster_labels.tolist() == [0, 1]
    assert res.labels.tolist() == [0, 1, 2]
    assert res.cluster_scores.tolist() == pytest.approx([.9, .7])


# Groups (top_k_means=1: every proposal is a top proposal):
#   G0 p0 [0,0,10,10] .3, p1 [0,0,10,9] .35, p2 [0,0,10,8] .4 (triangle)
#   G1 p3 [20,0,30,10] .9, p4 [20,0,30,9] .5        (pair)
#   G2 p5 [40,0,50,10] .6, p6 [40,0,50,9] .7        (pair)
#   G3 p7 [60,0,70,10] .8                           (alone)
# Greedy order: p2 (degree 2, best score of G0) score .4; then p3..p6
# have degree 1: p3 (.9) score .9; then p6 score .7; then p7 score .8.
# Nodes left after each pick: 5, 3, 1, 0.
GROUP_PROPS = [[0, 0, 10, 10], [0, 0, 10, 9], [0, 0, 10, 8], [20, 0, 30, 10],
               [20, 0, 30, 9], [40, 0, 50, 10], [40, 0, 50, 9],
               [60, 0, 70, 10]]
GROUP_SCORES = [.3, .35, .4, .9, .5, .6, .7, .8]


@pytest.mark.parametrize('min_remaining,max_centers,centres,scores', [
    (5, 5, [2], [.4]),
    (2, 5, [3, 6, 2], [.9, .7, .4]),
    (0, 5, [3, 7, 6, 2], [.9, .8, .7, .4]),
    (0, 2, [3, 7], [.9, .8]),
    (1, 1, [3], [.9]),
])
def test_min_remaining_and_max_centers(min_remaining, max_centers, centres,
                                       scores):
    res = pcl_proposal_clusters(
        torch.tensor(GROUP_PROPS, dtype=torch.float),
        torch.tensor(GROUP_SCORES)[:, None],
        torch.tensor([1.]),
        top_k_means=1,
        min_remaining=min_remaining,
        max_centers=max_centers)
    assert res.cluster_centers.tolist() == centres
    assert res.cluster_scores.tolist() == pytest.approx(scores)


def test_graph_edge_needs_iou_above_threshold():
    # IoU(p0, p1) = 40 / 100 = .4, not > .4: no edge, two centres.
    props = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 4]], dtype=torch.float)
    scores = torch.tensor([[.6], [.5]])
    res = pcl_proposal_clusters(
        props, scores, torch.tensor([1.]), top_k_means=1, min_remaining=0)
    assert res.cluster_centers.tolist() == [0, 1]
    assert res.cluster_ids.tolist() == [0, 1]
    res = pcl_proposal_clusters(
        props,
        scores,
        torch.tensor([1.]),
        top_k_means=1,
        min_remaining=0,
        graph_iou_thr=.39)
    assert res.cluster_centers.tolist() == [0]
    # p1: IoU .4 with the centre -> background of weight .6
    assert res.labels.tolist() == [0, 1]
    assert res.cluster_ids.tolist() == [0, -1]
    assert res.weights.tolist() == pytest.approx([.6, .6])


def test_no_class_or_no_proposal():
    res = pcl_proposal_clusters(
        torch.rand(4, 4) * 10, torch.rand(4, 3), torch.zeros(3))
    assert res.labels.tolist() == [3] * 4 and res.weights.tolist() == [0] * 4
    assert res.cluster_ids.tolist() == [-1] * 4
    assert len(res.cluster_labels) == len(res.cluster_sizes) == 0
    res = pcl_proposal_clusters(
        torch.zeros(0, 4), torch.zeros(0, 3), torch.ones(3))
    assert len(res.labels) == 0 and len(res.cluster_scores) == 0


# --- naive reference: the rules with loops, one proposal at a time ---


def _ref_top(values, k):
    """Brute force: every split of the sorted distinct values into
    min(k, m) contiguous segments; the top segment of the least total sum
    of squares (ties within TIE_RTOL of the total: the smallest)."""
    uniq = sorted(set(values))
    k = min(k, len(uniq))
    if k <= 1:
        return list(range(len(values)))

    def cost(lo, hi):  # values in uniq[lo] .. uniq[hi - 1]
        mem = [v for v in values if uniq[lo] <= v <= uniq[hi - 1]]
        mean = sum(mem) / len(mem)
        return sum((v - mean)**2 for v in mem)

    splits = [(sum(
        cost(a, b)
        for a, b in zip((0, ) + cuts, cuts + (len(uniq), ))), cuts[-1])
              for cuts in itertools.combinations(range(1, len(uniq)), k - 1)]
    best = min(c for c, _ in splits)
    tol = TIE_RTOL * cost(0, len(uniq))
    start = max(t for c, t in splits if c <= best + tol)
    return [i for i, v in enumerate(values) if v >= uniq[start]]


def _reference(props,
               scores,
               image_labels,
               graph_iou_thr=.4,
               max_centers=5,
               min_remaining=5,
               top_k_means=3,
               fg_iou_thr=.5,
               bg_iou_thr=.1):
    R, C = scores.shape
    taken, centres = set(), []  # (proposal, class, score)
    for c in range(C):
        if image_labels[c] <= 0:
            continue
        cand = [r for r in range(R) if r not in taken]
        if not cand:
            break
        top = [
            cand[i]
            for i in _ref_top([scores[r, c] for r in cand], top_k_means)
        ]
        alive, picked = list(top), []
        while True:

            def nbrs(i):
                return [
                    j for j in alive
                    if j == i or box_iou(props[i], props[j]) > graph_iou_thr
                ]

            best = max(alive, key=lambda i: (len(nbrs(i)), scores[i, c], -i))
            mem = nbrs(best)
            picked.append((best, max(scores[j, c] for j in mem)))
            alive = [j for j in alive if j not in mem]
            if len(alive) <= min_remaining:
                break
        picked = sorted(enumerate(picked), key=lambda t: (-t[1][1], t[0]))
        for _, (r, s) in picked[:max_centers]:
            centres.append((r, c, s))
            taken.add(r)
    labels, weights, ids = [C] * R, [0.] * R, [-1] * R
    for r in range(R):
        best, best_m = -1., None
        for m, (cr, _, _) in enumerate(centres):
            iou = box_iou(props[r], props[cr])
            if iou > best:
                best, best_m = iou, m
        if best_m is None:
            continue
        if best >= fg_iou_thr:
            labels[r], weights[r], ids[r] = centres[best_m][1], \
                centres[best_m][2], best_m
        elif best >= bg_iou_thr:
            weights[r] = centres[best_m][2]
    return labels, weights, ids, centres


@pytest.mark.parametrize('seed', range(12))
def test_matches_reference_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    R, C = int(rng.integers(1, 40)), int(rng.integers(1, 5))
    xy = rng.uniform(0, 60, (R, 2))
    wh = rng.uniform(2, 40, (R, 2))
    props = np.concatenate([xy, xy + wh], 1)
    scores = rng.random((R, C))**3
    image_labels = (rng.random(C) < .7).astype(np.float64)
    cfg = dict(
        min_remaining=int(rng.integers(0, 4)),
        max_centers=int(rng.integers(1, 4)),
        top_k_means=int(rng.integers(1, 4)))
    res = pcl_proposal_clusters(
        torch.from_numpy(props), torch.from_numpy(scores),
        torch.from_numpy(image_labels), **cfg)
    labels, weights, ids, centres = _reference(props, scores, image_labels,
                                               **cfg)
    assert res.labels.tolist() == labels
    assert res.weights.tolist() == pytest.approx(weights)
    assert res.cluster_ids.tolist() == ids
    assert res.cluster_centers.tolist() == [c[0] for c in centres]
    assert res.cluster_labels.tolist() == [c[1] for c in centres]
    assert res.cluster_scores.tolist() == pytest.approx(
        [c[2] for c in centres])
    assert res.cluster_sizes.tolist() == [
        ids.count(m) for m in range(len(centres))
    ]


def test_pcl_targets_batch_offsets():
    props, scores = _worked()
    # image 1, class 1 only: k-means of [.9, .8, .01] keeps {p0}; p1 (IoU
    # .9) joins its cluster, p2 is ignored.
    img1_props = torch.tensor(
        [[0, 0, 10, 10], [0, 0, 10, 9], [50, 50, 60, 60]], dtype=torch.float)
    img1_scores = torch.tensor([[.1, .9], [.1, .8], [.1, .01]])
    labels = torch.tensor([[1., 1.], [0., 1.]])
    out = pcl_targets([props, img1_props], (scores, img1_scores), labels)
    assert len(out) == 6
    first = pcl_proposal_clusters(props, scores, labels[0])
    second = pcl_proposal_clusters(img1_props, img1_scores, labels[1])
    assert second.cluster_ids.tolist() == [0, 0, -1]
    (t_labels, t_weights, t_ids, t_clabels, t_cscores, t_sizes) = out
    assert t_labels.tolist() == first.labels.tolist() + [1, 1, 2]
    assert t_weights.tolist() == pytest.approx(first.weights.tolist() +
                                               second.weights.tolist())
    # image 1's cluster 0 is the batch's cluster 2
    assert t_ids.tolist() == [0, 0, 0, 0, 1, 1, -1, -1, 2, 2, -1]
    assert t_clabels.tolist() == [0, 1, 1]
    assert t_cscores.tolist() == pytest.approx([.9, .85, .9])
    assert t_sizes.tolist() == [4, 2, 2]
    # the batch loss is the mean of the per-image losses
    probs = torch.rand(11, 3).softmax(1)
    img_inds = torch.tensor([0] * 8 + [1] * 3)
    loss = PCLLoss()(probs, *out, img_inds=img_inds, num_imgs=2)
    per_img = [
        PCLLoss()(
            p,
            *r.as_tuple(),
            img_inds=torch.zeros(len(p), dtype=torch.long),
            num_imgs=1) for p, r in zip(probs.split([8, 3]), (first, second))
    ]
    assert loss.item() == pytest.approx(sum(per_img).item() / 2)
