"""The SCM's inputs parts (HeatmapInputs, BoxInputs) and their pairing with
the detectors."""
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from mmdet.registry import MODELS, TASK_UTILS
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmdet_csod.models.scm import (BoxInputs, HeatmapFCOS, HeatmapInputs,
                                   ProposalFCRegressor, QueryBoxes,
                                   QueryHeatmaps, SpatialCorrelationModule)
from mmdet_csod.models.utils import synthesize_heatmap


pytestmark = pytest.mark.usefixtures('one_thread')


def _case(seed=0):
    """Two images, 30 proposals each, 4 score columns, 3 queries."""
    g = torch.Generator().manual_seed(seed)
    img_shapes = [(48, 64), (40, 36)]
    proposals, scores = [], []
    for h, w in img_shapes:
        xy = torch.rand(30, 2, generator=g) * torch.tensor([w, h]) * 0.6
        wh = torch.rand(30, 2, generator=g) * torch.tensor([w, h]) * 0.3 + 2
        proposals.append(torch.cat([xy, xy + wh], dim=1))
        scores.append(torch.rand(30, 4, generator=g))
    queries = torch.tensor([[0, 1], [1, 2], [1, 0]])
    targets = [
        torch.tensor([[8., 8., 40., 30.]]),
        torch.tensor([[0., 0., 20., 20.], [10., 12., 30., 38.]]),
        torch.tensor([[4., 4., 16., 16.]])
    ]
    return proposals, scores, queries, targets, img_shapes


def test_heatmap_inputs_paint_the_selected_boxes():
    scm = SpatialCorrelationModule(
        heatmap_stride=2,
        inputs=dict(type='HeatmapInputs', modes=('max', 'num')))
    proposals, scores, queries, _, img_shapes = _case()
    batch = scm.prepare(proposals, scores, queries, img_shapes)
    assert type(batch) is QueryHeatmaps and batch.modes == ('max', 'num')
    assert batch.sizes == [(24, 32), (20, 18), (20, 18)]
    assert batch.heatmaps.shape == (3, 2, 24, 32)
    assert batch.detector_inputs is batch.heatmaps
    selected = scm.select(proposals, scores, queries)
    for q, (sel, (h, w)) in enumerate(zip(selected, batch.sizes)):
        torch.testing.assert_close(batch.selected[q].bboxes, sel.bboxes)
        torch.testing.assert_close(batch.boxes[q].bboxes, sel.bboxes / 2)
        hm = synthesize_heatmap(sel.bboxes / 2, sel.scores, (h, w),
                                ('max', 'num'))
        hm = hm / hm.flatten(1).amax(1)[:, None, None]
        torch.testing.assert_close(batch.heatmaps[q, :, :h, :w], hm)
        assert batch.heatmaps[q, :, h:].abs().sum() == 0  # zero padding
        assert batch.metas[q]['img_shape'] == (h, w)
        assert batch.metas[q]['pad_shape'] == (24, 32)
    # without normalization: the raw max of the scores
    raw = HeatmapInputs(
        modes=('max', ), normalize=False)(queries, selected, batch.sizes, 2,
                                          torch.zeros(()))
    assert raw.heatmaps[0].max() == pytest.approx(
        float(selected[0].scores.max()))


def test_box_inputs_pass_the_boxes_and_paint_nothing():
    scm = SpatialCorrelationModule(
        detector=dict(type='ProposalFCRegressor', topk=5))
    assert isinstance(scm.inputs, BoxInputs)  # the regressor's default
    assert not isinstance(scm.inputs, HeatmapInputs)
    assert not issubclass(QueryHeatmaps, QueryBoxes)
    proposals, scores, queries, _, img_shapes = _case()
    batch = scm.prepare(proposals, scores, queries, img_shapes)
    assert type(batch) is QueryBoxes and not hasattr(batch, 'heatmaps')
    assert batch.detector_inputs is batch.boxes
    for box, sel in zip(batch.boxes, batch.selected):
        torch.testing.assert_close(box.bboxes, sel.bboxes / 4)
        torch.testing.assert_close(box.scores, sel.scores)
    # the visualisation still gets max / sum heatmaps of the selection
    assert scm.heatmap_modes == ('max', 'sum')
    hms, sizes = scm.heatmaps(proposals, scores, queries, img_shapes)
    assert hms.shape == (3, 2, 12, 16) and sizes == batch.sizes


@pytest.mark.parametrize('inputs, detector', [
    (None, dict(type='HeatmapFCOS')),
    (dict(type='HeatmapInputs', modes=('sum', )), dict(type='HeatmapFCOS')),
    (None, dict(type='ProposalFCRegressor', topk=5)),
    (dict(type='BoxInputs'), dict(type='ProposalFCRegressor', topk=5)),
])
def test_scm_loss_is_the_detectors_on_its_inputs(inputs, detector):
    """The SCM hands its detector the batch's inputs and nothing else."""
    torch.manual_seed(0)
    scm = SpatialCorrelationModule(inputs=inputs, detector=detector)
    scm.init_weights()
    proposals, scores, queries, targets, img_shapes = _case(1)
    losses = scm.loss(proposals, scores, queries, targets, img_shapes)
    batch = scm.prepare(proposals, scores, queries, img_shapes)
    gts = [
        InstanceData(bboxes=t / 4, labels=torch.zeros(len(t)).long())
        for t in targets
    ]
    if isinstance(scm.detector, HeatmapFCOS):
        assert isinstance(scm.inputs, HeatmapInputs)
        assert scm.detector.trunk[0].in_channels == len(scm.inputs.modes)
        expect = scm.detector.loss(batch.heatmaps, gts, batch.metas)
    else:
        assert isinstance(scm.detector, ProposalFCRegressor)
        expect = scm.detector.loss(batch.boxes, gts, batch.metas)
    assert set(losses) == set(expect)
    for k in losses:
        torch.testing.assert_close(losses[k], expect[k], rtol=0, atol=0)


def test_inputs_and_detector_must_fit():
    with pytest.raises(
            ValueError,
            match='ProposalFCRegressor takes '
            'QueryBoxes.*HeatmapInputs give QueryHeatmaps'):
        SpatialCorrelationModule(
            inputs=dict(type='HeatmapInputs'),
            detector=dict(type='ProposalFCRegressor'))
    with pytest.raises(
            ValueError,
            match='HeatmapFCOS takes QueryHeatmaps'
            '.*BoxInputs give QueryBoxes'):
        SpatialCorrelationModule(inputs=dict(type='BoxInputs'))
    with pytest.raises(
            KeyError,
            match='NoSuchInputs is not in the '
            'mmdet::task util registry'):
        SpatialCorrelationModule(inputs=dict(type='NoSuchInputs'))
    with pytest.raises(TypeError, match='not an SCM inputs part'):
        SpatialCorrelationModule(
            inputs=dict(type='MaxIoUAssigner', pos_iou_thr=.5, neg_iou_thr=.5))
    with pytest.raises(TypeError, match='modes'):
        SpatialCorrelationModule(modes=('max', ))  # moved into the inputs
    with pytest.raises(TypeError, match='takes the queries\' boxes'):
        ProposalFCRegressor().loss(torch.zeros(1, 2, 4, 4), [], [])
    # the class flag and the old name are gone
    assert MODELS.get('HeatmapFCRegressor') is None
    assert not hasattr(HeatmapFCOS, 'uses_heatmap')
    assert isinstance(TASK_UTILS.build(dict(type='BoxInputs')), BoxInputs)


def test_fc_ablation_config_pairs_box_inputs_with_the_regressor():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/csod/ablations/'
                 'drn_tiny_synthetic_scm-fc.py'))
    scm_cfg = cfg.model.scm
    assert dict(scm_cfg.inputs) == dict(type='BoxInputs')
    assert dict(scm_cfg.detector) == dict(
        type='ProposalFCRegressor', topk=10, num_fcs=3)
    scm = MODELS.build(scm_cfg)
    assert isinstance(scm.inputs, BoxInputs)
    assert isinstance(scm.detector, ProposalFCRegressor)
    base = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/csod/drn_tiny_synthetic.py')).model.scm
    assert dict(base.inputs) == dict(
        type='HeatmapInputs', modes=('max', 'sum'))
