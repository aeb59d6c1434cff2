"""Proposal pseudo-labels for online instance classifier refinement (OICR)."""
from typing import Tuple

import torch
from mmdet.structures.bbox import bbox_overlaps
from torch import Tensor

WEIGHT_MODES = ('seed_score', 'iou')


def oicr_pseudo_labels(
        proposals: Tensor,
        scores: Tensor,
        image_labels: Tensor,
        iou_thr: float = 0.5,
        weight_mode: str = 'seed_score') -> Tuple[Tensor, Tensor]:
    """Per-proposal labels and weights from the previous stage's scores.

    For each class present in the image, in increasing class order, the seed
    is the proposal with the highest score for that class among proposals not
    already taken as an earlier class's seed. Every proposal takes the class
    of the seed it overlaps most (IoU by mmdet's ``bbox_overlaps``, no +1)
    when that IoU is >= ``iou_thr``, and the background label ``C``
    otherwise. Its weight is the score of that seed for the seed's class
    (background proposals too), or, with ``weight_mode='iou'`` (the CSOD
    paper's variant), its IoU with that seed.

    Only the classes are looped over; proposals are handled as tensors.

    Args:
        proposals (Tensor): [R, 4] x1, y1, x2, y2.
        scores (Tensor): [R, C] scores of the previous stage, no background
            column. Not differentiated through.
        image_labels (Tensor): [C] multi-hot image-level labels.
        iou_thr (float): IoU at which a proposal takes its seed's class.
        weight_mode (str): 'seed_score' or 'iou'.

    Returns:
        tuple[Tensor, Tensor]: labels [R] long in 0..C (C is background) and
        weights [R] float. With no class present, every label is C and every
        weight 0.
    """
    if weight_mode not in WEIGHT_MODES:
        raise ValueError(f'weight_mode must be one of {WEIGHT_MODES}, got '
                         f'{weight_mode!r}')
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
    seeds = []
    for c in present.tolist():  # a loop over classes, not proposals
        seed = torch.argmax(available[:, c])
        seeds.append(seed)
        available[seed] = float('-inf')
    seeds = torch.stack(seeds)
    seed_scores = scores[seeds, present]

    ious = bbox_overlaps(proposals.detach().float(),
                         proposals.detach()[seeds].float())  # [R, S]
    max_iou, nearest = ious.max(dim=1)
    labels = torch.where(max_iou >= iou_thr, present[nearest], labels)
    if weight_mode == 'seed_score':
        weights = seed_scores[nearest].to(weights.dtype)
    else:
        weights = max_iou.to(weights.dtype)
    return labels, weights
