"""``ContextHeatmapInputs``: the SCM also sees where the image's other
classes are (``context_selection``), and the DRN gives it scores whose
absent classes are 0."""
import os.path as osp

import pytest
import torch
from _drn_plus import plus_model
from conftest import REPO_ROOT, model_and_batch, record_calls
from mmdet.registry import MODELS, TASK_UTILS
from mmengine.structures import InstanceData

from mmdet_csod.models.roi_heads.mil_roi_head import RecOutputs
from mmdet_csod.models.scm import (ContextHeatmapInputs, HeatmapInputs,
                                   context_selection)

pytestmark = pytest.mark.usefixtures('one_thread')
CONTEXT = dict(type='ContextHeatmapInputs')
ABLATION = osp.join(REPO_ROOT, 'configs', 'csod', 'ablations',
                    'drn-plus_tiny_synthetic_scm-context.py')


def _scm(**kwargs):
    return MODELS.build(dict(type='SpatialCorrelationModule',
                             detector=dict(type='HeatmapFCOS', num_convs=2,
                                           num_pools=1, feat_channels=8),
                             **kwargs))


def _props():
    # a rider (0), its carrier (1), another object (2), a patch of floor (3)
    return torch.tensor([[40., 10., 60., 30.], [20., 25., 80., 60.],
                         [90., 40., 110., 60.], [0., 60., 10., 70.]])


def test_context_selection_takes_the_other_classes_with_evidence():
    scm = _scm()
    props = [_props(), _props()]
    a = torch.zeros(4, 3)
    a[:, 0] = torch.tensor([0.8, 0.2, 0.0, 0.0])  # the query's class
    a[:, 1] = torch.tensor([0.1, 0.6, 0.0, 0.0])  # the carrier's
    a[:, 2] = torch.tensor([0.0, 0.0, 0.3, 0.02])  # another object's
    b = torch.zeros(4, 3)
    b[:, 0] = torch.tensor([0.5, 0.4, 0.0, 0.0])  # alone in its image
    ctx = context_selection(scm.select, props, [a, b],
                            torch.tensor([[0, 0], [1, 0], [0, 2]]))
    assert len(ctx) == 3
    # query (0, 0): the carrier's confident boxes, then the other object's
    # (0.02 < 0.1 of its top: not selected), each relative to its top
    assert torch.equal(ctx[0].bboxes, props[0][[1, 0, 2]])
    assert torch.allclose(ctx[0].scores, torch.tensor([1., 1 / 6, 1.]))
    assert len(ctx[1]) == 0  # no other class has evidence in image 1
    # query (0, 2) sees classes 0 and 1, not itself
    assert torch.equal(ctx[2].bboxes, props[0][[0, 1, 1, 0]])
    assert context_selection(scm.select, props, [a, b],
                             torch.zeros((0, 2), dtype=torch.long)) == []


def test_the_context_tells_a_carrier_from_empty_floor():
    """The bug: the paper's class-agnostic heatmap of a rider is the same
    whether or not it rides on something, so the SCM cannot learn to end
    the rider's box at its carrier. The context channel tells them apart."""
    q = torch.tensor([[0, 0]])
    rider = [InstanceData(bboxes=_props()[[0, 1]],
                          scores=torch.tensor([0.8, 0.3]))]
    carrier = [InstanceData(bboxes=_props()[[1]], scores=torch.tensor([1.]))]
    floor = [InstanceData(bboxes=_props()[:0], scores=torch.zeros(0))]
    size = [(20, 30)]
    like = torch.zeros(1)
    plain = HeatmapInputs()(q, rider, size, 4, like).heatmaps
    assert torch.equal(plain, HeatmapInputs()(q, rider, size, 4, like,
                                              context=carrier).heatmaps)
    inputs = ContextHeatmapInputs()
    on = inputs(q, rider, size, 4, like, context=carrier)
    off = inputs(q, rider, size, 4, like, context=floor)
    assert on.heatmaps.shape == (1, 3, 20, 30)
    assert on.modes == ('max', 'sum', 'context_max')
    # the query's channels are the paper's, the context is what differs
    assert torch.equal(on.heatmaps[:, :2], plain)
    assert torch.equal(off.heatmaps[:, :2], plain)
    assert not off.heatmaps[:, 2].any()
    # the carrier's box (20, 25, 80, 60) at stride 4: rows 6-14, cols 5-19
    want = torch.zeros(20, 30)
    want[6:15, 5:20] = 1
    assert torch.equal(on.heatmaps[0, 2], want)
    with pytest.raises(ValueError, match='context for each'):
        inputs(q, rider, size, 4, like)
    with pytest.raises(ValueError, match='context_modes'):
        ContextHeatmapInputs(context_modes=('mean', ))


def test_an_scm_with_context_trains_and_predicts(monkeypatch):
    scm = _scm(inputs=CONTEXT)
    assert scm.detector.trunk[0].in_channels == 3
    assert scm.heatmap_modes == ('max', 'sum')  # what heatmaps() shows
    seen = record_calls(monkeypatch, scm.detector, 'loss',
                        lambda args, kwargs, _: args[0])
    scores = torch.zeros(4, 3)
    scores[:, 0] = torch.tensor([0.9, 0.3, 0.0, 0.0])
    scores[:, 1] = torch.tensor([0.2, 0.7, 0.0, 0.0])
    losses = scm.loss([_props()], [scores], torch.tensor([[0, 1]]),
                      [torch.tensor([[20., 25., 80., 60.]])], [(80, 120)])
    sum(losses.values()).backward()
    maps, = seen
    assert maps.shape[1] == 3 and maps[0, 2].any()  # class 0 is context
    res = scm.predict([_props()], [scores], torch.tensor([[0, 0]]),
                      [(80, 120)])
    assert res.bboxes.shape[1] == 4 and len(res) >= 1
    with pytest.raises(ValueError, match='moves boxes between images'):
        _scm(inputs=CONTEXT,
             train_composition=dict(type='NeighbourComposition'))
    assert TASK_UTILS.get('ContextHeatmapInputs') is ContextHeatmapInputs


def test_the_drn_gives_absent_classes_no_evidence_with_context():
    rec = RecOutputs([torch.zeros(2, 4)], torch.zeros(2, 8), {},
                     [torch.tensor([[0.2, 0.6, 0.4] + [0.1] * 7,
                                    [0.5, 0.1, 0.3] + [0.2] * 7])])
    for exclusive in (False, True):
        model = plus_model(exclusive_evidence=exclusive)
        c = len(model.rec_label_map)
        labels = torch.zeros(1, model.num_classes)
        labels[0, model.rec_label_map[0]] = 1
        labels[0, model.rec_label_map[2]] = 1
        plain, = model.evidence_scores(rec, labels)
        model.scm.inputs = ContextHeatmapInputs()
        got, = model.evidence_scores(rec, labels)
        absent = [k for k in range(c) if k not in (0, 2)]
        assert not got[:, absent].any()
        assert plain[:, absent].any()  # else the test is void
        assert torch.equal(got[:, [0, 2]], plain[:, [0, 2]])
        with pytest.raises(ValueError, match='image labels'):
            model.evidence_scores(rec)


def test_a_training_step_with_the_context_config(synthetic_root,
                                                 monkeypatch):
    """The ablation's model, one real step with pseudo boxes: the SCM's
    detector gets three channels, the context of some query is not empty,
    and the losses back-propagate."""
    model, batch = model_and_batch(ABLATION, synthetic_root)
    assert isinstance(model.scm.inputs, ContextHeatmapInputs)
    model.train()
    model.pseudo_gt_enabled = True
    seen = record_calls(monkeypatch, model.scm.detector, 'loss',
                        lambda args, kwargs, _: args[0])
    data = model.data_preprocessor(batch, True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    loss.backward()
    maps, = seen
    assert maps.shape[1] == 3 and maps[:, 2].any()
    assert model.scm.detector.trunk[0].weight.grad is not None
