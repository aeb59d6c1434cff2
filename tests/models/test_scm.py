"""The spatial correlation module: FCOS targets, losses, predictions."""
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps
from mmengine.structures import InstanceData

from mmdet_csod.models.scm import (HeatmapFCOS, ProposalFCRegressor,
                                   SpatialCorrelationModule)
from mmdet_csod.models.utils import synthesize_heatmap


pytestmark = pytest.mark.usefixtures('one_thread')


def _gt(boxes):
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    return InstanceData(
        bboxes=boxes, labels=torch.zeros(len(boxes), dtype=torch.long))


def test_fcos_targets_worked_case():
    """Stride 4 (two poolings) on a 16 x 16 heatmap: a 4 x 4 grid of points
    at x, y in {2, 6, 10, 14}, numbered row by row (index = 4 * row +
    column). Every point strictly inside a box is positive (regress range
    (-1, 1e8)); its target is (l, t, r, b) / 4 (``norm_on_bbox``)."""
    det = HeatmapFCOS(in_channels=2, num_convs=5, num_pools=2)
    assert det.head.num_classes == 1 and det.head.strides == [4]
    points = det.head.prior_generator.grid_priors([(4, 4)], device='cpu')
    torch.testing.assert_close(
        points[0][:5],
        torch.tensor([[2., 2.], [6., 2.], [10., 2.], [14., 2.], [2., 6.]]))
    # image 0: box (3, 5)-(13, 11) holds x in {6, 10} and y in {6, 10}
    # image 1: box (6, 2)-(16, 8); x = 6 lies on its edge (not inside), so
    # only x in {10, 14} at y = 6
    labels, targets = det.head.get_targets(
        points, [_gt([3, 5, 13, 11]), _gt([6, 2, 16, 8])])
    labels, targets = labels[0], targets[0]
    assert labels.shape == (32, ) and targets.shape == (32, 4)
    pos = {5, 6, 9, 10, 16 + 6, 16 + 7}
    for k in range(32):
        assert labels[k] == (0 if k in pos else 1)  # 1 = background
    expected = {
        # (x, y) = (6, 6): l = 6 - 3, t = 6 - 5, r = 13 - 6, b = 11 - 6
        5: [3 / 4, 1 / 4, 7 / 4, 5 / 4],
        6: [7 / 4, 1 / 4, 3 / 4, 5 / 4],  # (10, 6)
        9: [3 / 4, 5 / 4, 7 / 4, 1 / 4],  # (6, 10)
        10: [7 / 4, 5 / 4, 3 / 4, 1 / 4],  # (10, 10)
        16 + 6: [4 / 4, 4 / 4, 6 / 4, 2 / 4],  # (10, 6) in image 1
        16 + 7: [8 / 4, 4 / 4, 2 / 4, 2 / 4],  # (14, 6) in image 1
    }
    for k, target in expected.items():
        torch.testing.assert_close(targets[k], torch.tensor(target))


def test_heatmap_fcos_structure():
    det = HeatmapFCOS(
        in_channels=3, num_convs=2, num_pools=1, head=dict(stacked_convs=1))
    convs = [m for m in det.trunk if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in det.trunk if isinstance(m, torch.nn.MaxPool2d)]
    assert len(convs) == 2 and len(pools) == 1
    assert convs[0].in_channels == 3 and det.head.strides == [2]
    cls, reg, ctr = det(torch.rand(2, 3, 9, 7))  # padded to 10 x 8
    assert cls[0].shape == (2, 1, 5, 4) and reg[0].shape == (2, 4, 5, 4)
    with pytest.raises(ValueError):
        HeatmapFCOS(num_convs=2, num_pools=3)


def _scm_inputs(seed=0):
    """Two images, proposals inside them, 5 score columns, 3 queries."""
    g = torch.Generator().manual_seed(seed)
    img_shapes = [(60, 80), (72, 50)]
    proposals, scores = [], []
    for h, w in img_shapes:
        xy = torch.rand(40, 2, generator=g) * torch.tensor([w, h]) * 0.7
        wh = torch.rand(40, 2, generator=g) * torch.tensor([w, h]) * 0.3 + 2
        proposals.append(torch.cat([xy, xy + wh], dim=1))
        scores.append(torch.rand(40, 5, generator=g))
    queries = torch.tensor([[0, 1], [1, 3], [1, 0]])
    targets = [
        torch.tensor([[10., 10., 50., 40.]]),
        torch.tensor([[0., 0., 30., 30.], [20., 35., 45., 70.]]),
        torch.tensor([[5., 5., 20., 20.]])
    ]
    return proposals, scores, queries, targets, img_shapes


SCM_VARIANTS = [
    dict(type='SpatialCorrelationModule'),
    dict(
        type='SpatialCorrelationModule',
        inputs=dict(type='HeatmapInputs', modes=('num', )),
        heatmap_stride=2,
        detector=dict(type='HeatmapFCOS', num_convs=2, num_pools=1)),
    dict(
        type='SpatialCorrelationModule',
        inputs=dict(type='HeatmapInputs', modes=('max', 'sum', 'num')),
        detector=dict(type='HeatmapFCOS', head=dict(stacked_convs=1))),
    dict(
        type='SpatialCorrelationModule',
        detector=dict(type='ProposalFCRegressor', topk=10, num_fcs=3)),
]


@pytest.mark.parametrize('cfg', SCM_VARIANTS)
def test_scm_loss_and_predict(cfg):
    torch.manual_seed(0)
    scm = MODELS.build(cfg)
    scm.init_weights()
    proposals, scores, queries, targets, img_shapes = _scm_inputs()
    scores = [s.requires_grad_() for s in scores]
    proposals = [p.requires_grad_() for p in proposals]

    losses = scm.loss(proposals, scores, queries, targets, img_shapes)
    is_fc = cfg.get('detector', {}).get('type') == 'ProposalFCRegressor'
    expected_keys = {'loss_bbox'} if is_fc else {
        'loss_cls', 'loss_bbox', 'loss_centerness'
    }
    assert set(losses) == expected_keys
    total = sum(losses.values())
    assert torch.isfinite(total) and total > 0
    total.backward()
    grads = [p.grad for p in scm.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert all(t.grad is None for t in scores + proposals)

    for mode in ('train', 'eval'):
        getattr(scm, mode)()
        res = scm.predict(proposals, scores, queries, img_shapes)
        assert len(res) == 3 and res.bboxes.shape == (3, 4)
        assert res.scores.shape == (3, ) and res.from_fallback.dtype == \
            torch.bool
        assert res.img_ids.tolist() == [0, 1, 1]
        assert res.labels.tolist() == [1, 3, 0]
        assert not res.bboxes.requires_grad
        for box, (i, _) in zip(res.bboxes, queries.tolist()):
            h, w = img_shapes[i]
            assert 0 <= box[0] <= box[2] <= w and 0 <= box[1] <= box[3] <= h

    num_channels = len(cfg.get('inputs', {}).get('modes', ('max', 'sum')))
    hms, sizes = scm.heatmaps(proposals, scores, queries, img_shapes)
    stride = cfg.get('heatmap_stride', 4)
    assert sizes == [(-(-60 // stride), -(-80 // stride)),
                     (-(-72 // stride), -(-50 // stride)),
                     (-(-72 // stride), -(-50 // stride))]
    assert hms.shape == (3, num_channels, max(h for h, _ in sizes),
                         max(w for _, w in sizes))
    assert hms.max() <= 1 + 1e-6 and hms.min() >= 0  # normalized
    assert hms.flatten(1).amax(1).gt(0).all()


@pytest.mark.parametrize('cfg', [SCM_VARIANTS[0], SCM_VARIANTS[-1]])
def test_scm_without_queries(cfg):
    scm = MODELS.build(cfg)
    proposals, scores, _, _, img_shapes = _scm_inputs()
    queries = torch.zeros((0, 2), dtype=torch.long)
    losses = scm.loss(proposals, scores, queries, [], img_shapes)
    total = sum(losses.values())
    assert total == 0
    total.backward()
    assert all(p.grad is not None for p in scm.parameters())
    res = scm.predict(proposals, scores, queries, img_shapes)
    assert len(res) == 0 and res.bboxes.shape == (0, 4)
    hms, sizes = scm.heatmaps(proposals, scores, queries, img_shapes)
    assert hms.shape[:2] == (0, 2) and sizes == []


def test_scm_selection_and_fallback():
    """Relative threshold, box cap; the fallback is the top proposal."""
    scm = SpatialCorrelationModule(score_thr=0.5, max_boxes=2)
    proposals = [
        torch.tensor([[0., 0., 10., 10.], [5., 5., 30., 30.], [1., 1., 8., 8.],
                      [2., 2., 9., 9.]])
    ]
    scores = [torch.tensor([[0.2], [0.8], [0.45], [0.5]])]
    queries = torch.tensor([[0, 0]])
    sel = scm.select(proposals, scores, queries)[0]
    torch.testing.assert_close(sel.scores, torch.tensor([0.8, 0.5]))
    torch.testing.assert_close(sel.bboxes, proposals[0][[1, 3]])
    # an untrained HeatmapFCOS scores every location ~0.01 < score_thr
    scm.init_weights()
    res = scm.predict(proposals, scores, queries, [(40, 40)])
    assert res.from_fallback.tolist() == [True]
    torch.testing.assert_close(res.bboxes[0], proposals[0][1])
    torch.testing.assert_close(res.scores[0], torch.tensor(0.8))
    # no proposal at all: the whole image
    res = scm.predict([torch.zeros((0, 4))], [torch.zeros((0, 1))], queries,
                      [(40, 30)])
    assert res.from_fallback.tolist() == [True]
    torch.testing.assert_close(res.bboxes[0], torch.tensor([0., 0., 30., 40.]))


def test_scm_predict_skips_boxes_outside_the_image(monkeypatch):
    """A detection on the padding of a smaller image clips to zero size: the
    next valid detection is taken, else the fallback."""
    scm = SpatialCorrelationModule(score_thr=0.5, heatmap_stride=4)
    proposals = [torch.tensor([[4., 4., 20., 20.]])]
    scores = [torch.tensor([[0.9]])]
    queries = torch.tensor([[0, 0]])
    found = [InstanceData(
        bboxes=torch.tensor([[12., 1., 15., 5.], [1., 1., 6., 6.]]),
        scores=torch.tensor([0.9, 0.6]), labels=torch.zeros(2).long())]
    monkeypatch.setattr(scm.detector, 'predict', lambda *a, **k: found)
    # image 40 x 40: the first box starts at x = 48, past the image
    res = scm.predict(proposals, scores, queries, [(40, 40)])
    torch.testing.assert_close(res.bboxes[0], torch.tensor([4., 4., 24., 24.]))
    torch.testing.assert_close(res.scores[0], torch.tensor(0.6))
    assert res.from_fallback.tolist() == [False]
    found[0] = found[0][:1]
    res = scm.predict(proposals, scores, queries, [(40, 40)])
    assert res.from_fallback.tolist() == [True]
    torch.testing.assert_close(res.bboxes[0], proposals[0][0])


def test_scm_config_checks():
    scm = SpatialCorrelationModule(
        inputs=dict(type='HeatmapInputs', modes=('num', 'max', 'sum')))
    assert scm.detector.in_channels == 3
    assert isinstance(
        SpatialCorrelationModule(detector=dict(
            type='ProposalFCRegressor')).detector, ProposalFCRegressor)
    with pytest.raises(ValueError):
        SpatialCorrelationModule(
            inputs=dict(type='HeatmapInputs', modes=('max', )),
            detector=dict(type='HeatmapFCOS', in_channels=2))
    with pytest.raises(ValueError):
        SpatialCorrelationModule(
            inputs=dict(type='HeatmapInputs', modes=('mean', )))


def test_fc_regressor_learns_offset():
    """The regressor starts at the top input box and learns to move it to
    the ground truth."""
    torch.manual_seed(0)
    reg = ProposalFCRegressor(topk=4, num_fcs=3, hidden_channels=32)
    reg.init_weights()
    metas = [dict(img_shape=(20, 20))]
    boxes = [
        InstanceData(
            bboxes=torch.tensor([[2., 2., 10., 10.], [3., 3., 12., 12.]]),
            scores=torch.tensor([0.9, 0.6]))
    ]
    gts = [_gt([[4., 4., 14., 14.], [15., 15., 19., 19.]])]
    first = reg.predict(boxes, metas)[0]
    torch.testing.assert_close(first.bboxes, boxes[0].bboxes[:1])
    opt = torch.optim.Adam(reg.parameters(), lr=1e-2)
    for _ in range(60):
        loss = reg.loss(boxes, gts, metas)['loss_bbox']
        opt.zero_grad()
        loss.backward()
        opt.step()
    last = reg.predict(boxes, metas)[0]
    assert bbox_overlaps(last.bboxes, gts[0].bboxes[:1]).item() > 0.8


def test_heatmap_fcos_overfits():
    """~100 steps on four heatmaps painted from boxes jittered around a gt
    box: the top predicted box lands on the gt."""
    torch.manual_seed(0)
    det = HeatmapFCOS(in_channels=2)
    det.init_weights()
    gts = torch.tensor([[4., 6., 20., 26.], [10., 3., 28., 14.],
                        [2., 2., 14., 12.], [12., 10., 30., 30.]])
    size = (32, 32)
    heatmaps, insts, metas = [], [], []
    for gt in gts:
        boxes = gt[None] + torch.randn(15, 4) * 1.5
        hm = synthesize_heatmap(boxes, torch.rand(15) * 0.7 + 0.3, size)
        heatmaps.append(hm / hm.flatten(1).amax(1)[:, None, None])
        insts.append(_gt(gt))
        metas.append(dict(img_shape=size, pad_shape=size))
    heatmaps = torch.stack(heatmaps)
    opt = torch.optim.Adam(det.parameters(), lr=3e-3)
    for _ in range(100):
        loss = sum(det.loss(heatmaps, insts, metas).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    for mode in ('train', 'eval'):
        getattr(det, mode)()
        results = det.predict(heatmaps, metas)
        for res, gt in zip(results, gts):
            assert len(res) == 1  # max_per_img=1: the top box
            assert bbox_overlaps(res.bboxes, gt[None]).item() > 0.5
