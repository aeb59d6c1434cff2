"""Shared inputs of the refinement-target tests: pcl.pytorch's PCL
settings and a seeded batch of random proposals with features."""
import torch

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
