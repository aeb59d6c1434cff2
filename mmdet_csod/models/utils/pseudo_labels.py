"""Proposal pseudo-labels for online instance classifier refinement (OICR)."""
from typing import Optional, Tuple

import torch
from mmdet.structures.bbox import bbox_overlaps
from torch import Tensor

WEIGHT_MODES = ('seed_score', 'iou')


def oicr_pseudo_labels(
        proposals: Tensor,
        scores: Tensor,
        image_labels: Tensor,
        iou_thr: float = 0.5,
        weight_mode: str = 'seed_score',
        gt_bboxes: Optional[Tensor] = None,
        gt_labels: Optional[Tensor] = None,
        ignore_iou_thr: Optional[float] = None) -> Tuple[Tensor, Tensor]:
    """Per-proposal labels and weights from the previous stage's scores.

    For each class present in the image, in increasing class order, the seed
    is the proposal with the highest score for that class among proposals not
    already taken as an earlier class's seed. Every proposal takes the class
    of the seed it overlaps most (IoU by mmdet's ``bbox_overlaps``, no +1)
    when that IoU is >= ``iou_thr``, and the background label ``C``
    otherwise. Its weight is the score of that seed for the seed's class
    (background proposals too), or, with ``weight_mode='iou'`` (the CSOD
    paper's variant), its IoU with that seed. With ``ignore_iou_thr``
    (pcl.pytorch's OICR ``BG_THRESH``, 0.1 there), a proposal whose IoU
    with every seed is below it is ignored: weight 0, label C.

    With ``gt_bboxes`` (cross-supervised training), the classes that have
    ground-truth boxes in the image take those boxes as their seeds, with
    score 1, instead of a top-scoring proposal; only the present classes
    without a box get a proposal seed, chosen among the proposals that
    overlap no ground-truth box at ``iou_thr`` (a labelled object is not
    an unlabelled one).

    Only the classes are looped over; proposals are handled as tensors.

    Args:
        proposals (Tensor): [R, 4] x1, y1, x2, y2.
        scores (Tensor): [R, C] scores of the previous stage, no background
            column. Not differentiated through.
        image_labels (Tensor): [C] multi-hot image-level labels.
        iou_thr (float): IoU at which a proposal takes its seed's class.
        weight_mode (str): 'seed_score' or 'iou'.
        gt_bboxes (Tensor, optional): [G, 4] boxes of known classes.
        gt_labels (Tensor, optional): [G] their classes (columns of
            ``scores``).
        ignore_iou_thr (float, optional): Max IoU with the seeds (gt box
            seeds included) under which a proposal gets weight 0; None or
            0 (the default): none is ignored. At most ``iou_thr``.

    Returns:
        tuple[Tensor, Tensor]: labels [R] long in 0..C (C is background) and
        weights [R] float. With no class present, every label is C and every
        weight 0.
    """
    if weight_mode not in WEIGHT_MODES:
        raise ValueError(f'weight_mode must be one of {WEIGHT_MODES}, got '
                         f'{weight_mode!r}')
    if ignore_iou_thr is not None and ignore_iou_thr > iou_thr:
        raise ValueError(f'ignore_iou_thr ({ignore_iou_thr}) must be <= '
                         f'iou_thr ({iou_thr})')
    num_props, num_classes = scores.shape
    if proposals.shape != (num_props, 4):
        raise ValueError(f'proposals {tuple(proposals.shape)} do not match '
                         f'scores {tuple(scores.shape)}')
    if image_labels.shape != (num_classes, ):
        raise ValueError(f'image_labels {tuple(image_labels.shape)} do not '
                         f'match scores {tuple(scores.shape)}')
    scores = scores.detach()
    labels = scores.new_full((num_props, ), num_classes, dtype=torch.long)
    weights = scores.new_zeros(num_props)
    present = torch.nonzero(image_labels > 0, as_tuple=False).flatten()
    if num_props == 0 or len(present) == 0:
        return labels, weights

    available = scores.clone()
    seed_boxes = proposals.new_zeros((0, 4))
    seed_labels = present.new_zeros((0, ))
    seed_scores = scores.new_zeros((0, ))
    use_gt = gt_bboxes is not None and len(gt_bboxes) > 0
    if use_gt:
        gt_bboxes = gt_bboxes.detach().to(proposals)
        gt_labels = gt_labels.to(present.device)
        seed_boxes, seed_labels = gt_bboxes, gt_labels
        seed_scores = scores.new_ones((len(gt_bboxes), ))
        present = present[~torch.isin(present, gt_labels)]
        on_gt = bbox_overlaps(proposals.detach().float(),
                              gt_bboxes.float()).amax(dim=1) >= iou_thr
        available[on_gt] = float('-inf')
    seeds, seeded = [], []
    for c in present.tolist():  # a loop over classes, not proposals
        if use_gt and torch.isinf(available[:, c].max()):
            continue  # every proposal lies on a box or is a seed already
        seed = torch.argmax(available[:, c])
        seeds.append(seed)
        seeded.append(c)
        available[seed] = float('-inf')
    if seeds:
        seeds = torch.stack(seeds)
        seeded = present.new_tensor(seeded)
        seed_boxes = torch.cat([seed_boxes, proposals.detach()[seeds]])
        seed_labels = torch.cat([seed_labels, seeded])
        seed_scores = torch.cat([seed_scores, scores[seeds, seeded]])
    if not len(seed_boxes):
        return labels, weights

    ious = bbox_overlaps(proposals.detach().float(),
                         seed_boxes.float())  # [R, S]
    max_iou, nearest = ious.max(dim=1)
    labels = torch.where(max_iou >= iou_thr, seed_labels[nearest], labels)
    if weight_mode == 'seed_score':
        weights = seed_scores[nearest].to(weights.dtype)
    else:
        weights = max_iou.to(weights.dtype)
    if ignore_iou_thr:
        weights = torch.where(max_iou < ignore_iou_thr,
                              weights.new_zeros(()), weights)
    return labels, weights
