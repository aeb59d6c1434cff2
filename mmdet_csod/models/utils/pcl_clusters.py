"""Proposal clusters of PCL (Tang et al., TPAMI 2018) for refinement."""
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import torch
from mmdet.structures.bbox import bbox_overlaps
from torch import Tensor

#: Partitions whose cost is within this fraction of the total sum of squares
#: of the optimum's count as tied in :func:`top_score_cluster` (float
#: rounding of the prefix sums is ~1e-13 of it).
TIE_RTOL = 1e-9


@dataclass
class PCLClusters:
    """The proposal clusters of one image (M clusters, R proposals).

    Attributes:
        labels (Tensor): [R] long in 0..C; C is background (also for the
            ignored proposals).
        weights (Tensor): [R] float: the cluster score for a cluster member,
            the score of its nearest centre for a background proposal, 0 for
            an ignored one.
        cluster_ids (Tensor): [R] long in 0..M-1, -1 for background and
            ignored proposals.
        cluster_labels (Tensor): [M] long, the class of each cluster.
        cluster_scores (Tensor): [M] float, the score of each centre.
        cluster_sizes (Tensor): [M] long, the members of each cluster.
        cluster_centers (Tensor): [M] long, the proposal index of each
            centre.
    """

    labels: Tensor
    weights: Tensor
    cluster_ids: Tensor
    cluster_labels: Tensor
    cluster_scores: Tensor
    cluster_sizes: Tensor
    cluster_centers: Tensor

    def as_tuple(self) -> Tuple[Tensor, ...]:
        """``(labels, weights, cluster_ids, cluster_labels, cluster_scores,
        cluster_sizes)``: the targets :class:`PCLLoss` takes."""
        return (self.labels, self.weights, self.cluster_ids,
                self.cluster_labels, self.cluster_scores, self.cluster_sizes)


def _segment_cost(s1: Tensor, s2: Tensor, w: Tensor, lo: Tensor,
                  hi: Tensor) -> Tensor:
    """Within-segment sums of squares of the sorted distinct values.

    Args:
        s1 (Tensor): [m + 1] prefix sums of ``count * x`` over the m sorted
            distinct values x (``s1[0] = 0``).
        s2 (Tensor): [m + 1] prefix sums of ``count * x ** 2``.
        w (Tensor): [m + 1] prefix sums of ``count``.
        lo (Tensor): [P] long, first value of each segment.
        hi (Tensor): [P] long, one past its last value (``lo < hi``).

    Returns:
        Tensor: [P] ``sum (x - mean) ** 2`` over the values (with their
        multiplicities) of each segment.
    """
    d1 = s1[hi] - s1[lo]
    return (s2[hi] - s2[lo] - d1 * d1 / (w[hi] - w[lo])).clamp(min=0)


def _next_layer(prev: Tensor, s1: Tensor, s2: Tensor, w: Tensor, j: int,
                t_hi: int) -> Tensor:
    """One layer of the 1-D k-means dynamic programme (divide and conquer).

    ``cur[t] = min over j - 1 <= s < t of prev[s] + cost(s, t)`` for
    ``j <= t <= t_hi``: the best cost of the first t distinct values in j
    segments from the best costs in j - 1 segments (``prev``). The 1-D sum
    of squares satisfies the quadrangle inequality, so the largest best s
    is non-decreasing in t: the middle t of each range of t is solved over
    its admissible s, whose best bounds the s of the two halves. The ranges
    of one level are solved together (tensors, no loop over values):
    ``O(m)`` candidates a level, ``floor(log2(t_hi - j + 1)) + 1`` levels.

    Args:
        prev (Tensor): [m + 1] best costs in j - 1 segments, finite on
            ``j - 1 .. t_hi - 1``.
        s1 (Tensor): [m + 1] see :func:`_segment_cost`.
        s2 (Tensor): [m + 1] see :func:`_segment_cost`.
        w (Tensor): [m + 1] see :func:`_segment_cost`.
        j (int): Segments of the new layer, >= 2.
        t_hi (int): Last t solved.

    Returns:
        Tensor: [m + 1] ``cur``, inf outside ``j .. t_hi``.
    """
    device = prev.device
    cur = torch.full_like(prev, float('inf'))

    def longs(v):
        return torch.tensor([v], dtype=torch.long, device=device)

    # ranges of t (tlo..thi) with the admissible s (slo..shi) of each
    tlo, thi, slo, shi = longs(j), longs(t_hi), longs(j - 1), longs(t_hi - 1)
    while len(tlo):  # one iteration per level: O(log m)
        mid = (tlo + thi) // 2
        cnt = torch.minimum(shi, mid - 1) - slo + 1  # >= 1
        task = torch.repeat_interleave(
            torch.arange(len(mid), device=device), cnt)
        first = torch.cumsum(cnt, 0) - cnt
        s = slo[task] + torch.arange(len(task), device=device) - first[task]
        val = prev[s] + _segment_cost(s1, s2, w, s, mid[task])
        best_val = torch.full((len(mid), ), float('inf'), dtype=val.dtype,
                              device=device).scatter_reduce(
                                  0, task, val, 'amin')
        best = torch.full_like(mid, -1).scatter_reduce(
            0, task, torch.where(val == best_val[task], s, -1), 'amax')
        cur[mid] = best_val
        left, right = mid > tlo, mid < thi
        tlo, thi, slo, shi = (torch.cat([tlo[left], mid[right] + 1]),
                              torch.cat([mid[left] - 1, thi[right]]),
                              torch.cat([slo[left], best[right]]),
                              torch.cat([best[left], shi[right]]))
    return cur


def top_score_cluster(values: Tensor, num_clusters: int) -> Tensor:
    """Members of the highest cluster of the optimal 1-D k-means of values.

    The exact optimum (not Lloyd iterations): the partition of the values
    into ``k`` clusters of least total within-cluster sum of squares. In
    1-D its clusters are intervals of the sorted values, and it never
    splits equal values (a value equidistant from two centroids could move
    and strictly lower the cost) nor, when ``k`` is at most the number m
    of distinct values, leaves a cluster empty or two centroids equal. So
    with ``k = min(num_clusters, m)`` it is the split of the sorted
    distinct values (with their multiplicities) into k contiguous
    non-empty segments of least cost: dynamic programming on prefix sums,
    each of the k - 2 inner layers by divide and conquer
    (:func:`_next_layer`), ``O(k m log m)`` in all, and the last layer
    (the top segment's start) by a direct minimum. The kept cluster is the
    top segment: the cluster of the highest mean, with the highest value.
    ``k <= 1`` or a single distinct value keeps everything; with
    ``num_clusters >= m`` only the values equal to the maximum are kept.

    Tie rule (deterministic): among the top segments whose best partition
    costs at most the optimum plus ``TIE_RTOL`` times the total sum of
    squares, the smallest one (highest lowest value) is kept; e.g. [0, 1,
    2] with k = 2 keeps {2}. Equal values are always kept together.

    Computed in float64 on the centred values.

    Args:
        values (Tensor): [n] scores.
        num_clusters (int): k-means clusters (>= 1; 1 keeps everything).

    Returns:
        Tensor: [n] bool, True for the members of the kept cluster.
    """
    if values.dim() != 1:
        raise ValueError(f'values must be 1-D, got {tuple(values.shape)}')
    uniq, inverse, counts = torch.unique(
        values.detach().double(),
        sorted=True,
        return_inverse=True,
        return_counts=True)
    m = len(uniq)
    k = min(int(num_clusters), m)
    if k <= 1:
        return torch.ones_like(values, dtype=torch.bool)
    counts = counts.double()
    x = uniq - (uniq * counts).sum() / counts.sum()  # centred

    def prefix(v):
        return torch.cat([v.new_zeros(1), torch.cumsum(v, 0)])

    s1, s2, w = prefix(counts * x), prefix(counts * x * x), prefix(counts)
    t = torch.arange(m + 1, device=uniq.device)
    # one segment: cost(0, t); t = 0 (no value) is infeasible
    best = torch.cat([
        uniq.new_full((1, ), float('inf')),
        _segment_cost(s1, s2, w, torch.zeros_like(t[1:]), t[1:])
    ])
    for j in range(2, k):  # a loop over clusters, not values
        best = _next_layer(best, s1, s2, w, j, m - (k - j))
    start = t[k - 1:m]  # the top segment is start .. m - 1
    total = best[start] + _segment_cost(s1, s2, w, start,
                                        torch.full_like(start, m))
    tied = total <= total.min() + TIE_RTOL * s2[m]
    return inverse >= start[tied].max()


def graph_centers(boxes: Tensor, scores: Tensor, graph_iou_thr: float,
                  min_remaining: int) -> Tuple[Tensor, Tensor]:
    """Greedy centres of the IoU graph of one class's top proposals.

    Nodes are the n boxes; two are neighbours when their IoU (mmdet's
    ``bbox_overlaps``, no +1) is > ``graph_iou_thr``, and every node is its
    own neighbour. Repeat: among the remaining nodes pick the one with the
    most remaining neighbours (ties: the highest score, then the lower
    index); it is a centre of score the max score of it and its remaining
    neighbours; remove it and its remaining neighbours. Stop when at most
    ``min_remaining`` nodes remain (at least one centre is always picked).

    Args:
        boxes (Tensor): [n, 4], n >= 1.
        scores (Tensor): [n] the class's scores of the boxes.
        graph_iou_thr (float): Edge threshold.
        min_remaining (int): Nodes left when the search stops.

    Returns:
        tuple[Tensor, Tensor]: [P] long node indices of the centres in the
        order they were picked and [P] their scores.
    """
    num = len(boxes)
    adj = bbox_overlaps(boxes, boxes) > graph_iou_thr
    adj.fill_diagonal_(True)
    alive = torch.ones(num, dtype=torch.bool, device=boxes.device)
    degree = adj.sum(dim=1)  # remaining neighbours, self included
    neg_inf = scores.new_tensor(float('-inf'))
    centers, center_scores = [], []
    while True:  # one iteration per centre
        alive_degree = torch.where(alive, degree, degree.new_tensor(-1))
        tied = alive_degree == alive_degree.max()
        pick = torch.argmax(torch.where(tied, scores, neg_inf))
        members = adj[pick] & alive
        centers.append(pick)
        center_scores.append(scores[members].max())
        alive &= ~members
        # adj is symmetric; each node is removed once: O(n^2) in all
        degree -= adj.index_select(0, members.nonzero()[:, 0]).sum(dim=0)
        if int(alive.sum()) <= min_remaining:
            break
    return torch.stack(centers), torch.stack(center_scores)


def pcl_proposal_clusters(proposals: Tensor,
                          scores: Tensor,
                          image_labels: Tensor,
                          graph_iou_thr: float = 0.4,
                          max_centers: int = 5,
                          min_remaining: int = 5,
                          top_k_means: int = 3,
                          fg_iou_thr: float = 0.5,
                          bg_iou_thr: float = 0.1) -> PCLClusters:
    """PCL's proposal clusters of one image from the previous scores.

    Centres, for each class c present in the image, in increasing class
    order, among the proposals not already a centre of an earlier class
    (the candidates; a class with none is skipped):

    1. Top proposals: the members of the highest cluster of the optimal
       1-D k-means of the candidates' scores for c into ``top_k_means``
       clusters (:func:`top_score_cluster`: exact, deterministic).
    2. Graph: an edge between two top proposals when their IoU (mmdet's
       ``bbox_overlaps``, no +1) is > ``graph_iou_thr``.
    3. Greedy search (:func:`graph_centers`): pick the node with the highest
       degree (ties: highest score, then lowest index), make it a centre of
       score the max score of it and its neighbours, remove it and its
       neighbours; stop when at most ``min_remaining`` nodes remain (at
       least one centre per present class).
    4. Keep the ``max_centers`` centres of the highest scores, ordered by
       decreasing score (ties: picking order); they are cluster ids
       ``m = M_prev, ..., M_prev + P_c - 1`` after the earlier classes'.

    Clusters: each proposal goes to the centre it overlaps most (IoU by
    ``bbox_overlaps``; ties: the lower cluster id):

    - IoU >= ``fg_iou_thr``: member of that centre's cluster: label = the
      centre's class, weight = the centre's score, cluster id = m;
    - ``bg_iou_thr`` <= IoU < ``fg_iou_thr``: background: label C, weight
      = the centre's score, cluster id -1;
    - IoU < ``bg_iou_thr``: ignored: label C, weight 0, cluster id -1.

    With no class present (or no proposal) there is no cluster: every label
    is C, every weight 0, every cluster id -1. A centre is always in its
    own cluster unless its box is degenerate (zero area) or a duplicate of
    an earlier centre, so a cluster may be empty (size 0) only then.

    Only classes and centres are looped over; proposals are tensors.

    Args:
        proposals (Tensor): [R, 4] x1, y1, x2, y2.
        scores (Tensor): [R, C] the previous stage's scores, no background
            column. Not differentiated through.
        image_labels (Tensor): [C] multi-hot image-level labels.
        graph_iou_thr (float): IoU above which two top proposals are
            neighbours in the graph.
        max_centers (int): Most centres (clusters) per class.
        min_remaining (int): Graph nodes left when the search stops.
        top_k_means (int): k of the k-means on the scores.
        fg_iou_thr (float): IoU with a centre to join its cluster.
        bg_iou_thr (float): IoU with the nearest centre under which a
            proposal is ignored.

    Returns:
        PCLClusters: ``labels`` [R], ``weights`` [R], ``cluster_ids`` [R],
        ``cluster_labels`` [M], ``cluster_scores`` [M], ``cluster_sizes``
        [M], ``cluster_centers`` [M].
    """
    num_props, num_classes = scores.shape
    if proposals.shape != (num_props, 4):
        raise ValueError(f'proposals {tuple(proposals.shape)} do not match '
                         f'scores {tuple(scores.shape)}')
    if image_labels.shape != (num_classes, ):
        raise ValueError(f'image_labels {tuple(image_labels.shape)} do not '
                         f'match scores {tuple(scores.shape)}')
    if max_centers < 1:
        raise ValueError(f'max_centers must be >= 1, got {max_centers}')
    scores = scores.detach()
    boxes = proposals.detach().to(
        scores.dtype if scores.is_floating_point() else torch.float)
    device = scores.device
    labels = torch.full((num_props, ),
                        num_classes,
                        dtype=torch.long,
                        device=device)
    weights = scores.new_zeros(num_props)
    cluster_ids = torch.full_like(labels, -1)
    present = torch.nonzero(image_labels > 0, as_tuple=False).flatten()

    available = torch.ones(num_props, dtype=torch.bool, device=device)
    centers, center_labels, center_scores = [], [], []
    for c in present.tolist():  # a loop over classes, not proposals
        cand = torch.nonzero(available, as_tuple=False).flatten()
        if len(cand) == 0:
            break
        top = cand[top_score_cluster(scores[cand, c], top_k_means)]
        nodes, node_scores = graph_centers(boxes[top], scores[top, c],
                                           graph_iou_thr, min_remaining)
        order = torch.sort(node_scores, descending=True, stable=True)[1]
        order = order[:max_centers]
        kept = top[nodes[order]]
        centers.append(kept)
        center_scores.append(node_scores[order])
        center_labels.append(torch.full_like(kept, c))
        available[kept] = False

    if not centers:
        empty = labels.new_zeros(0)
        return PCLClusters(labels, weights, cluster_ids, empty,
                           scores.new_zeros(0), empty, empty)
    centers = torch.cat(centers)
    center_labels = torch.cat(center_labels)
    center_scores = torch.cat(center_scores).to(weights.dtype)
    ious = bbox_overlaps(boxes, boxes[centers])  # [R, M]
    max_iou, nearest = ious.max(dim=1)
    fg = max_iou >= fg_iou_thr
    bg = (max_iou >= bg_iou_thr) & ~fg
    labels = torch.where(fg, center_labels[nearest], labels)
    weights = torch.where(fg | bg, center_scores[nearest], weights)
    cluster_ids = torch.where(fg, nearest, cluster_ids)
    sizes = torch.bincount(nearest[fg], minlength=len(centers))
    return PCLClusters(labels, weights, cluster_ids, center_labels,
                       center_scores, sizes, centers)


def pcl_targets(proposals: List[Tensor], scores: Sequence[Tensor],
                image_labels: Tensor, **cfg) -> Tuple[Tensor, ...]:
    """PCL targets of a batch, in :class:`PCLLoss`'s argument order.

    Runs :func:`pcl_proposal_clusters` on each image and concatenates:
    per-proposal tensors in the order of the inputs (image by image), the
    per-cluster tensors image by image, and the cluster ids of image i
    offset by the clusters of images 0..i-1 so that they index the batch's
    clusters (-1 stays -1).

    Args:
        proposals (list[Tensor]): per image [R_i, 4].
        scores (Sequence[Tensor]): per image [R_i, C].
        image_labels (Tensor): [B, C] multi-hot labels.
        **cfg: kwargs of :func:`pcl_proposal_clusters`.

    Returns:
        tuple[Tensor, ...]: ``labels [N]``, ``weights [N]``,
        ``cluster_ids [N]``, ``cluster_labels [M]``, ``cluster_scores
        [M]``, ``cluster_sizes [M]`` with N = sum R_i, M the batch's
        clusters.
    """
    if not (len(proposals) == len(scores) == len(image_labels)):
        raise ValueError(f'{len(proposals)} proposal sets, {len(scores)} '
                         f'score sets and {len(image_labels)} label rows')
    if len(proposals) == 0:
        ids = image_labels.new_zeros(0, dtype=torch.long)
        floats = image_labels.new_zeros(0, dtype=torch.float)
        return ids, floats, ids, ids, floats, ids
    per_img = [
        pcl_proposal_clusters(p, s, y, **cfg)
        for p, s, y in zip(proposals, scores, image_labels)
    ]
    offset = 0
    cluster_ids = []
    for res in per_img:
        ids = res.cluster_ids
        cluster_ids.append(torch.where(ids >= 0, ids + offset, ids))
        offset += len(res.cluster_labels)
    return (torch.cat([r.labels for r in per_img]),
            torch.cat([r.weights for r in per_img]), torch.cat(cluster_ids),
            torch.cat([r.cluster_labels for r in per_img]),
            torch.cat([r.cluster_scores for r in per_img]),
            torch.cat([r.cluster_sizes for r in per_img]))
