"""CorLocMetric's 'voc' convention (the WSOD peers': +1 pixel widths,
difficult objects, the arg max over proposals before NMS) against the
project's."""
import numpy as np
import pytest
import torch
from corloc_cases import (CAT, CLASSES, DOG, HORSE, META, assert_results,
                          evaluate, hand_worked_samples, packed_sample)
from mmdet.registry import METRICS
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData

import mmdet_csod  # noqa: F401  registers CorLocMetric
from mmdet_csod.evaluation import CorLocMetric


# --------------------------------------------------- convention='voc'
def _with_proposals(sample, bboxes, scores):
    """``sample`` with ``proposal_instances``: raw boxes [R, 4] or
    [R, C * 4] and scores [R, C], as ``predict_proposal_scores`` gives."""
    sample.proposal_instances = InstanceData(
        bboxes=torch.tensor(bboxes, dtype=torch.float32).reshape(
            len(scores),
            len(bboxes[0]) if len(bboxes) else 4),
        scores=torch.tensor(scores, dtype=torch.float32).reshape(
            len(scores), len(CLASSES)))
    return sample


def _one(gt, preds, convention, ignored=()):
    """CorLoc of the classes of a single image under a convention."""
    metric = CorLocMetric(convention=convention)
    metric.dataset_meta = META
    return evaluate(metric,
                    [packed_sample(gt=gt, preds=preds, ignored=ignored)])


def test_convention_is_validated():
    assert CorLocMetric().convention == 'project'
    assert CorLocMetric(convention='voc').convention == 'voc'
    for bad in ('VOC', 'pcl', None):
        with pytest.raises(ValueError, match='convention'):
            CorLocMetric(convention=bad)
    metric = METRICS.build(dict(type='CorLocMetric', convention='voc'))
    assert metric.convention == 'voc' and metric.prefix == 'corloc'


def test_voc_iou_has_plus_one_widths():
    from mmdet_csod.evaluation.metrics.corloc_metric import \
        bbox_overlaps_voc
    a = torch.tensor([[0., 0., 9., 9.], [0., 0., 5., 5.], [0., 0., 2., 2.]])
    b = torch.tensor([[0., 0., 9., 4.], [0., 0., 4., 3.], [3., 0., 5., 2.]])
    ious = bbox_overlaps_voc(a, b)
    assert ious.dtype == torch.float64
    # 10 * 5 / (10 * 10); 5 * 4 / 6 ** 2; disjoint by one pixel
    np.testing.assert_allclose(ious.diagonal().numpy(), [0.5, 20 / 36, 0])
    # touching boxes share a pixel column under +1, not without
    touch = bbox_overlaps_voc(
        torch.tensor([[0., 0., 2., 2.]]), torch.tensor([[2., 0., 4., 2.]]))
    assert touch.item() == pytest.approx(3 / 15)


def test_iou_exactly_half():
    # project: IoU 1800 / 3600 = 0.5 exactly is found (>=); voc sees
    # 61 * 31 / 61 ** 2 = 0.508 > 0.5, found too.
    gt, pred = [(CAT, [20, 20, 80, 80])], [(CAT, [20, 20, 80, 50], 0.9)]
    assert _one(gt, pred, 'project')['corloc_cat'] == 1
    assert _one(gt, pred, 'voc')['corloc_cat'] == 1
    # voc: IoU 10 * 5 / 10 ** 2 = 0.5 exactly is not found (>); the
    # project's 9 * 4 / 9 ** 2 = 0.44 is not either.
    gt, pred = [(CAT, [0, 0, 9, 9])], [(CAT, [0, 0, 9, 4], 0.9)]
    assert _one(gt, pred, 'voc')['corloc_cat'] == 0
    assert _one(gt, pred, 'project')['corloc_cat'] == 0
    # one pixel row more: 10 * 6 / 100 = 0.6 under voc
    assert _one(gt, [(CAT, [0, 0, 9, 5], 0.9)], 'voc')['corloc_cat'] == 1


def test_plus_one_widths_on_a_small_box():
    # gt 5 x 5 px, top box 4 x 3 px inside it: the project's IoU is
    # 12 / 25 = 0.48 (not found); with +1 it is 5 * 4 / 6 ** 2 = 0.56.
    gt, pred = [(DOG, [0, 0, 5, 5])], [(DOG, [0, 0, 4, 3], 0.9)]
    assert _one(gt, pred, 'project')['corloc_dog'] == 0
    assert _one(gt, pred, 'voc')['corloc_dog'] == 1


def test_difficult_objects_are_counted_and_matched_under_voc():
    gt = [(CAT, [0, 0, 50, 50])]
    ignored = [(DOG, [50, 50, 100, 100]), (HORSE, [0, 50, 40, 100])]
    preds = [(CAT, [0, 0, 50, 50], 0.9), (DOG, [50, 50, 100, 100], 0.8)]
    # project: the difficult dog and horse count for nothing
    res = _one(gt, preds, 'project', ignored)
    assert_results(res, dict(corloc=1, corloc_base=1, corloc_cat=1))
    # voc: both are counted; the dog box matches its difficult dog, the
    # horse has no box
    res = _one(gt, preds, 'voc', ignored)
    assert_results(
        res,
        dict(
            corloc=2 / 3,
            corloc_base=1,
            corloc_novel=0,
            corloc_cat=1,
            corloc_dog=1,
            corloc_horse=0))


def test_hand_worked_case_under_voc_falls_back_and_warns(monkeypatch):
    # Without proposal_instances the top boxes are pred_instances'. As in
    # the project (test_hand_worked_case), except for img 1's difficult
    # horse, now counted and found by the exact 0.9 horse box: horse 2 / 3
    # (img 1, img 2 found, IoU 61 * 31 / 61 ** 2 = 0.51; img 3 not).
    logged = []
    monkeypatch.setattr(
        'mmdet_csod.evaluation.metrics.corloc_metric.'
        'print_log', lambda msg, **kw: logged.append(msg))
    metric = CorLocMetric(convention='voc')
    metric.dataset_meta = META
    res = evaluate(metric, hand_worked_samples())
    assert_results(
        res,
        dict(
            corloc=(2 / 3 + 1 / 2 + 2 / 3) / 3,
            corloc_base=7 / 12,
            corloc_novel=2 / 3,
            corloc_cat=2 / 3,
            corloc_dog=1 / 2,
            corloc_horse=2 / 3))
    assert any('4 of 4 image(s) have no proposal_instances' in m
               for m in logged)
    assert any('voc: IoU > 0.5, +1 widths' in m for m in logged)


def _truncated_by_nms():
    """One image, gt cat [0,0,10,10] and dog [50,50,90,90]. Four proposals;
    the dog scores high on three of them, the cat peaks at 0.3 on the
    fourth, the cat itself. With max_per_img=3 the real per-class NMS keeps
    the three dog boxes and drops every cat box."""
    from mmdet_csod.structures import nms_instances
    from mmengine.config import ConfigDict
    boxes = [[50, 50, 90, 90], [0, 40, 30, 70], [60, 0, 90, 30],
             [0, 0, 10, 10]]
    scores = [[0.01, 0.9, 0.0], [0.02, 0.8, 0.0], [0.1, 0.7, 0.0],
              [0.3, 0.0, 0.0]]
    sample = packed_sample(
        gt=[(CAT, [0, 0, 10, 10]), (DOG, [50, 50, 90, 90])], preds=[])
    sample = _with_proposals(sample, boxes, scores)
    cfg = ConfigDict(
        score_thr=1e-3, nms=dict(type='nms', iou_threshold=0.3), max_per_img=3)
    sample.pred_instances = nms_instances(sample.proposal_instances, cfg)
    assert sorted(sample.pred_instances.labels.tolist()) == [DOG] * 3
    return sample


def test_arg_max_before_nms_against_top_box_after_nms(monkeypatch):
    logged = []
    monkeypatch.setattr(
        'mmdet_csod.evaluation.metrics.corloc_metric.'
        'print_log', lambda msg, **kw: logged.append(msg))
    sample = _truncated_by_nms()
    # project: the top box after NMS; no cat box is left
    res = _one_sample(sample, 'project')
    assert res['corloc_cat'] == 0 and res['corloc_dog'] == 1
    # voc: the cat's arg-max proposal (0.3) is the cat
    res = _one_sample(sample, 'voc')
    assert res['corloc_cat'] == 1 and res['corloc_dog'] == 1
    assert not any('proposal_instances' in m for m in logged)
    # voc without proposal_instances: pred_instances, with a warning
    del sample.proposal_instances
    res = _one_sample(sample, 'voc')
    assert res['corloc_cat'] == 0
    assert any('1 of 1 image(s) have no proposal_instances' in m
               for m in logged)


def _one_sample(sample, convention, **kw):
    metric = CorLocMetric(convention=convention, **kw)
    metric.dataset_meta = META
    return evaluate(metric, [sample])


def test_voc_reads_proposals_not_detections():
    # The arg-max proposal decides even where pred_instances would say
    # otherwise; ties go to the earlier proposal.
    gt = [(CAT, [0, 0, 10, 10])]
    hit = packed_sample(gt=gt, preds=[(CAT, [50, 50, 60, 60], 0.9)])
    hit = _with_proposals(hit, [[50, 50, 60, 60], [0, 0, 10, 10]],
                          [[0.2, 0, 0], [0.7, 0, 0]])
    assert _one_sample(hit, 'voc')['corloc_cat'] == 1
    assert _one_sample(hit, 'project')['corloc_cat'] == 0
    tie = packed_sample(gt=gt, preds=[])
    tie = _with_proposals(tie, [[50, 50, 60, 60], [0, 0, 10, 10]],
                          [[0.5, 0, 0], [0.5, 0, 0]])
    assert _one_sample(tie, 'voc')['corloc_cat'] == 0
    # no proposals at all: not found (and no fallback)
    empty = _with_proposals(packed_sample(gt=gt, preds=[]), [], [])
    metric = CorLocMetric(convention='voc')
    metric.dataset_meta = META
    metric.process({}, [empty.to_dict()])
    (labels, found, _, fallback), = metric.results
    assert labels.tolist() == [CAT] and found.tolist() == [False]
    assert not fallback


def test_voc_per_class_proposal_boxes():
    # bboxes [R, C * 4] (a DRN's decoded boxes): each class takes its own
    # box of its arg-max proposal. Proposal 1 is the cat's arg-max and its
    # cat box hits; proposal 0 is the dog's and its dog box hits. Once the
    # dog's arg-max moves to proposal 1, its dog box there misses.
    gt = [(CAT, [0, 0, 10, 10]), (DOG, [50, 50, 90, 90])]
    per_class = [
        [60, 60, 70, 70] * 3,
        [0, 0, 10, 10] + [20, 20, 30, 30] + [0, 0, 1, 1],
    ]
    per_class[0][4:8] = [50, 50, 90, 90]  # proposal 0: the dog's box
    sample = _with_proposals(
        packed_sample(gt=gt, preds=[]), per_class,
        [[0.1, 0.9, 0], [0.8, 0.2, 0]])
    res = _one_sample(sample, 'voc')
    assert res['corloc_cat'] == 1 and res['corloc_dog'] == 1
    sample.proposal_instances.scores = torch.tensor([[0.1, 0.2, 0],
                                                     [0.8, 0.9, 0]])
    res = _one_sample(sample, 'voc')
    assert res['corloc_cat'] == 1 and res['corloc_dog'] == 0


def test_voc_proposals_are_checked():
    gt = [(HORSE, [0, 0, 10, 10])]
    bad_shape = packed_sample(gt=gt, preds=[])
    bad_shape.proposal_instances = InstanceData(
        bboxes=torch.zeros(2, 8), scores=torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r'bboxes \[R, 4\] or \[R, C \* 4\]'):
        _one_sample(bad_shape, 'voc')
    too_few = packed_sample(gt=gt, preds=[])
    too_few.proposal_instances = InstanceData(
        bboxes=torch.zeros(2, 4), scores=torch.zeros(2, 2))
    with pytest.raises(ValueError, match='only 2 class columns'):
        _one_sample(too_few, 'voc')
    # the project convention never reads proposal_instances
    assert _one_sample(too_few, 'project')['corloc_horse'] == 0


def test_both_conventions_side_by_side_through_the_evaluator():
    evaluator = Evaluator([
        dict(type='CorLocMetric'),
        dict(type='CorLocMetric', convention='voc', prefix='corloc_voc')
    ])
    evaluator.dataset_meta = META
    # packed by the Evaluator: DetDataSamples with proposal_instances
    evaluator.process(data_samples=[_truncated_by_nms()], data_batch={})
    res = evaluator.evaluate(1)
    assert res['corloc/corloc_cat'] == 0
    assert res['corloc_voc/corloc_cat'] == 1
    assert res['corloc/corloc_dog'] == res['corloc_voc/corloc_dog'] == 1
