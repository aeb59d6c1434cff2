"""The SCM, through its own loss/predict API (stride, padded batch, box
mapping), learns to turn part-like confident boxes into the object box."""
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps


pytestmark = pytest.mark.usefixtures('one_thread')


def _sample(gen, n_img):
    props, scores, queries, targets, shapes = [], [], [], [], []
    for i in range(n_img):
        x1, y1 = (torch.rand(2, generator=gen) * 150).tolist()
        bw, bh = (40 + torch.rand(2, generator=gen) * 100).tolist()
        gt = torch.tensor([[x1, y1, x1 + bw, y1 + bh]])
        jitter = gt + torch.randn(30, 4, generator=gen) * 10
        corner = gt[:, :2] + torch.rand(20, 2, generator=gen) * bw / 3
        part = torch.cat([corner, corner + bw / 3], 1)  # WSOD-like parts
        xy = torch.rand(50, 2, generator=gen) * 250
        rand = torch.cat(
            [xy, xy + 20 + torch.rand(50, 2, generator=gen) * 60], 1)
        p = torch.cat([jitter, part, rand]).clamp(0, 320)
        s = bbox_overlaps(p, gt) + 0.05 * torch.rand(len(p), 1, generator=gen)
        props.append(p)
        scores.append(s)
        queries.append((i, 0))
        targets.append(gt)
        shapes.append((288, 320))
    return props, scores, torch.tensor(queries), targets, shapes


def test_scm_learns_object_boxes_from_confident_boxes():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    scm = MODELS.build(
        dict(type='SpatialCorrelationModule',
             inputs=dict(type='HeatmapInputs', modes=('max', 'sum')),
             heatmap_stride=4, score_thr=0.1, max_boxes=100,
             detector=dict(type='HeatmapFCOS', num_convs=5, num_pools=2,
                           feat_channels=32)))
    optim = torch.optim.Adam(scm.parameters(), lr=1e-3)
    scm.train()
    for _ in range(200):
        losses = scm.loss(*_sample(gen, 4))
        optim.zero_grad()
        sum(losses.values()).backward()
        optim.step()
    props, scores, queries, targets, shapes = _sample(gen, 12)
    for mode in ('train', 'eval'):
        getattr(scm, mode)()
        out = scm.predict(props, scores, queries, shapes)
        ious = torch.cat([bbox_overlaps(out.bboxes[i:i + 1], targets[i])[0]
                          for i in range(12)])
        assert not out.from_fallback.any()
        assert ious.mean() > 0.6, (mode, ious)
