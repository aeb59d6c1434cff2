"""A small SCM trained on generated queries: the shared step of the tests
of the SCM's training compositions (``NeighbourComposition``,
``ScaleComposition``)."""
import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps


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


def object_queries(gen, n_img, sides=(60, 120)):
    """``n_img`` queries (``SpatialCorrelationModule.loss``'s arguments),
    one object each with sides in ``sides`` in a 384-pixel image:
    confident boxes on the object (jittered by 5 pixels) and on its parts,
    scored by their IoU with it (a base query as the recognition head
    makes it), no neighbour."""
    lo, hi = sides
    props, scores, targets = [], [], []
    for _ in range(n_img):
        x1, y1 = (20 + torch.rand(2, generator=gen) * 120).tolist()
        bw, bh = (lo + torch.rand(2, generator=gen) * (hi - lo)).tolist()
        gt = torch.tensor([[x1, y1, x1 + bw, y1 + bh]])
        jitter = gt + torch.randn(30, 4, generator=gen) * 5
        corner = gt[:, :2] + torch.rand(20, 2, generator=gen) * bw / 2
        part = torch.cat([corner, corner + bw / 2], 1)
        p = torch.cat([jitter, part]).clamp(0, 384)
        s = bbox_overlaps(p, gt) + 0.05 * torch.rand(len(p), 1, generator=gen)
        props.append(p)
        scores.append(s)
        targets.append(gt)
    queries = torch.stack([torch.arange(n_img), torch.zeros(n_img).long()], 1)
    return props, scores, queries, targets, [(384, 384)] * n_img
