"""A small SCM trained on generated queries: the shared step of the tests
of the SCM's training compositions (``NeighbourComposition``,
``ScaleComposition``)."""
import torch
from mmdet.registry import MODELS


def train_scm(composition, make_queries, steps=400):
    """An SCM (``HeatmapFCOS``: five convs of 32 channels with GroupNorm,
    two max poolings, heatmap stride 4) with ``train_composition=
    composition``, trained by Adam (lr 1e-3) on ``steps`` batches of
    ``make_queries(gen)`` (``SpatialCorrelationModule.loss``'s arguments;
    ``gen`` a torch generator seeded 0, the global seed 0 before the
    SCM is built); returned in eval mode."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    scm = MODELS.build(
        dict(type='SpatialCorrelationModule',
             heatmap_stride=4,
             train_composition=composition,
             detector=dict(type='HeatmapFCOS', num_convs=5, num_pools=2,
                           feat_channels=32,
                           norm_cfg=dict(type='GN', num_groups=8))))
    optim = torch.optim.Adam(scm.parameters(), lr=1e-3)
    scm.train()
    for _ in range(steps):
        losses = scm.loss(*make_queries(gen))
        optim.zero_grad()
        sum(losses.values()).backward()
        optim.step()
    scm.eval()
    return scm
