"""Shared inputs of the refinement-target tests: pcl.pytorch's PCL
settings, a seeded batch of random proposals with features and a small
MIL head."""
import torch
from mmdet.registry import MODELS

# pcl.pytorch's defaults (configs/wsod/pcl_*.py use the same)
PCL_CFG = dict(
    graph_iou_thr=0.4,
    max_centers=5,
    min_remaining=2,
    top_k_means=3,
    fg_iou_thr=0.5,
    bg_iou_thr=0.1)


def random_batch(seed=0, nums=(30, 20), feat_dim=16):
    """Per image [R_i, 4] random boxes (at least 4 px a side) and the
    batch's features [sum R_i, feat_dim], from one seeded generator."""
    g = torch.Generator().manual_seed(seed)
    proposals = []
    for n in nums:
        xy = torch.rand(n, 2, generator=g) * 60
        proposals.append(
            torch.cat([xy, xy + torch.rand(n, 2, generator=g) * 40 + 4], 1))
    feats = torch.randn(sum(nums), feat_dim, generator=g)
    return proposals, feats


def mil_head(refine_targets, num_classes=3, num_refine=2, in_channels=16):
    """A seeded, initialised ``MILBBoxHead`` on [N, in_channels] features."""
    torch.manual_seed(0)
    head = MODELS.build(
        dict(
            type='MILBBoxHead',
            in_channels=in_channels,
            num_classes=num_classes,
            num_refine=num_refine,
            refine_targets=refine_targets))
    head.init_weights()
    return head
