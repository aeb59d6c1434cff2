"""CorLocMetric: a hand-worked case, splits, registry, Evaluator, packing;
the 'voc' convention of the WSOD peers against the project's."""
import math

import numpy as np
import pytest
import torch
from conftest import BASE
from conftest import CLASSES as ALL_CLASSES
from conftest import NOVEL
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData

import mmdet_csod  # noqa: F401  registers CorLocMetric
from mmdet_csod.evaluation import CorLocMetric

CLASSES = ('cat', 'dog', 'horse')
META = dict(
    classes=CLASSES, base_classes=('cat', 'dog'), novel_classes=('horse', ))
CAT, DOG, HORSE = 0, 1, 2


def _sample(gt, preds, ignored=(), ori_shape=(100, 100), boxes_type=True):
    """A packed test sample as the Evaluator hands it over (a DetDataSample
    turned into a dict). gt / ignored: [(label, box)]; preds: [(label, box,
    score)]; gt boxes are HorizontalBoxes as PackDetInputs packs them."""

    def instances(items):
        inst = InstanceData()
        boxes = torch.tensor([b for _, b in items],
                             dtype=torch.float32).reshape(-1, 4)
        inst.bboxes = HorizontalBoxes(boxes) if boxes_type else boxes
        inst.labels = torch.tensor([lb for lb, _ in items], dtype=torch.long)
        return inst

    s = DetDataSample(
        metainfo=dict(
            img_id=0,
            ori_shape=ori_shape,
            img_shape=ori_shape,
            scale_factor=(1.0, 1.0)))
    s.gt_instances = instances(gt)
    s.ignored_instances = instances(ignored)
    pred = InstanceData()
    pred.bboxes = torch.tensor([b for _, b, _ in preds],
                               dtype=torch.float32).reshape(-1, 4)
    pred.scores = torch.tensor([sc for _, _, sc in preds], dtype=torch.float32)
    pred.labels = torch.tensor([lb for lb, _, _ in preds], dtype=torch.long)
    s.pred_instances = pred
    return s


def hand_worked_samples():
    """Five images; classes cat, dog, horse (base: cat, dog; novel: horse).

    img 0  gt cat [0,0,50,50], dog [50,50,100,100]
           cat: top box (0.9) is the gt box, IoU 1            -> found
           dog: top box (0.8) [0,0,40,40] misses the dog (IoU 0; it has IoU
                0.64 with the *cat*, which must not count); the second dog
                box (0.7) is exact, but only the top box counts -> not found
           horse: a 0.99 box, but no horse in the image      -> not counted
    img 1  gt cat [10,10,60,60]; ignored (difficult) horse [0,0,100,100]
           cat: top box (0.5) [10,10,60,55], IoU 2250/2500 = 0.9 -> found
                (a lower cat box, 0.1, lies elsewhere)
           horse: only an ignored box                       -> not counted
                  (the exact 0.9 horse box changes nothing)
           dog: predicted, absent                           -> not counted
    img 2  gt dog [0,0,40,40], dog [50,50,90,90], horse [20,20,80,80]
           dog: top box (0.6) [52,50,90,90] matches the second dog,
                IoU 1520/1600 = 0.95                        -> found
           horse: top box (0.4) [20,20,80,50], IoU 1800/3600 = 0.5 exactly,
                  >= 0.5                                    -> found
           cat: a 0.95 box on the horse, cat absent         -> not counted
    img 3  gt cat [0,0,30,30], horse [40,40,90,90]; no predictions at all
           cat, horse                                       -> not found
    img 4  no gt, one prediction                            -> nothing

    cat   found 2 / counted 3 = 2/3   (img 0, 1 found; img 3 not)
    dog   found 1 / counted 2 = 1/2   (img 0 not; img 2 found)
    horse found 1 / counted 2 = 1/2   (img 2 found; img 3 not; img 1 ignored)
    corloc       = (2/3 + 1/2 + 1/2) / 3 = 5/9
    corloc_base  = (2/3 + 1/2) / 2       = 7/12
    corloc_novel = 1/2
    """
    # yapf: disable
    return [
        _sample(
            gt=[(CAT, [0, 0, 50, 50]), (DOG, [50, 50, 100, 100])],
            preds=[(DOG, [50, 50, 100, 100], 0.7),
                   (CAT, [60, 60, 90, 90], 0.2),
                   (HORSE, [0, 0, 50, 50], 0.99),
                   (DOG, [0, 0, 40, 40], 0.8),
                   (CAT, [0, 0, 50, 50], 0.9)]),
        _sample(
            gt=[(CAT, [10, 10, 60, 60])],
            ignored=[(HORSE, [0, 0, 100, 100])],
            preds=[(CAT, [70, 70, 90, 90], 0.1),
                   (HORSE, [0, 0, 100, 100], 0.9),
                   (CAT, [10, 10, 60, 55], 0.5),
                   (DOG, [0, 0, 10, 10], 0.3)]),
        _sample(
            gt=[(DOG, [0, 0, 40, 40]), (DOG, [50, 50, 90, 90]),
                (HORSE, [20, 20, 80, 80])],
            preds=[(HORSE, [20, 20, 80, 50], 0.4),
                   (DOG, [52, 50, 90, 90], 0.6),
                   (CAT, [20, 20, 80, 80], 0.95),
                   (DOG, [0, 0, 10, 10], 0.05),
                   (HORSE, [0, 0, 10, 10], 0.3)]),
        _sample(
            gt=[(CAT, [0, 0, 30, 30]), (HORSE, [40, 40, 90, 90])],
            preds=[]),
        _sample(gt=[], preds=[(CAT, [0, 0, 50, 50], 0.9)]),
    ]
    # yapf: enable


EXPECTED = dict(
    corloc=5 / 9,
    corloc_base=7 / 12,
    corloc_novel=1 / 2,
    corloc_cat=2 / 3,
    corloc_dog=1 / 2,
    corloc_horse=1 / 2)


def _evaluate(metric, samples):
    """Run a metric directly, as the Evaluator would (dicts)."""
    metric.process({}, [s.to_dict() for s in samples])
    return metric.compute_metrics(metric.results)


def _assert_results(res, expected):
    assert set(res) == set(expected)
    for key, value in expected.items():
        assert res[key] == pytest.approx(value, abs=1e-9), key


def test_hand_worked_case():
    metric = CorLocMetric()
    metric.dataset_meta = META
    _assert_results(_evaluate(metric, hand_worked_samples()), EXPECTED)


def test_per_image_records():
    metric = CorLocMetric()
    metric.dataset_meta = META
    metric.process({}, [s.to_dict() for s in hand_worked_samples()])
    records = [(lb.tolist(), f.tolist()) for lb, f, *_ in metric.results]
    # img 4 has no gt and leaves no record.
    assert records == [([CAT, DOG], [True, False]), ([CAT], [True]),
                       ([DOG, HORSE], [True, True]),
                       ([CAT, HORSE], [False, False])]


def test_iou_thr_is_inclusive_and_configurable():
    # Above 0.5 the horse in img 2 (IoU exactly 0.5) is no longer found.
    metric = CorLocMetric(iou_thr=0.6)
    metric.dataset_meta = META
    res = _evaluate(metric, hand_worked_samples())
    assert res['corloc_horse'] == 0
    assert res['corloc'] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    with pytest.raises(ValueError, match='iou_thr'):
        CorLocMetric(iou_thr=0)


def test_plain_tensor_boxes_and_score_ties():
    # Ground truth as plain tensors works too; on a score tie the earlier
    # prediction is the top box.
    samples = [
        _sample(
            gt=[(CAT, [0, 0, 10, 10])],
            preds=[(CAT, [0, 0, 10, 10], 0.5), (CAT, [50, 50, 60, 60], 0.5)],
            boxes_type=False),
        _sample(
            gt=[(CAT, [0, 0, 10, 10])],
            preds=[(CAT, [50, 50, 60, 60], 0.5), (CAT, [0, 0, 10, 10], 0.5)],
            boxes_type=False),
    ]
    metric = CorLocMetric()
    metric.dataset_meta = META
    assert _evaluate(metric, samples)['corloc_cat'] == 0.5


def test_uncounted_classes_and_splits_are_left_out():
    metric = CorLocMetric()
    metric.dataset_meta = META
    # Only cat is ever counted: no dog/horse keys, no novel mean.
    res = _evaluate(metric, hand_worked_samples()[1:2])
    _assert_results(res, dict(corloc=1.0, corloc_base=1.0, corloc_cat=1.0))
    # Without base/novel in dataset_meta there are no split means.
    metric = CorLocMetric()
    metric.dataset_meta = dict(classes=CLASSES)
    res = _evaluate(metric, hand_worked_samples())
    _assert_results(
        res, {
            k: v
            for k, v in EXPECTED.items()
            if k not in ('corloc_base', 'corloc_novel')
        })
    # Nothing counted at all: CorLoc is undefined.
    metric = CorLocMetric()
    metric.dataset_meta = META
    res = _evaluate(metric, hand_worked_samples()[4:])
    assert list(res) == ['corloc'] and math.isnan(res['corloc'])


def test_built_from_registry_with_prefix_and_table(monkeypatch):
    logged = []
    monkeypatch.setattr(
        'mmdet_csod.evaluation.metrics.corloc_metric.'
        'print_log', lambda msg, **kw: logged.append(msg))
    metric = METRICS.build(dict(type='CorLocMetric'))
    assert isinstance(metric, CorLocMetric)
    assert metric.iou_thr == 0.5 and metric.prefix == 'corloc'
    assert metric.convention == 'project'
    metric.dataset_meta = META
    metric.process({}, [s.to_dict() for s in hand_worked_samples()])
    res = metric.evaluate(size=5)
    _assert_results(res, {f'corloc/{k}': v for k, v in EXPECTED.items()})
    table = '\n'.join(logged)
    for word in ('cat', 'dog', 'horse', '0.6667', '0.5556', '0.5833'):
        assert word in table


def test_evaluator_end_to_end():
    evaluator = Evaluator(dict(type='CorLocMetric', prefix='train'))
    evaluator.dataset_meta = META
    samples = hand_worked_samples()
    # Two batches, as a loop hands them over.
    evaluator.process(data_samples=samples[:2], data_batch={})
    evaluator.process(data_samples=samples[2:], data_batch={})
    res = evaluator.evaluate(len(samples))
    _assert_results(res, {f'train/{k}': v for k, v in EXPECTED.items()})


def _packed(tiny_coco, pipeline_order):
    """Samples packed by the real test pipeline of a tiny COCO dataset, with
    predictions equal to the gt (rescaled to the original image)."""
    tiny_coco.add_image(
        'a.jpg', [('cat', [10, 20, 40, 30]), ('person', [5, 5, 30, 40]),
                  ('dog', [0, 0, 20, 20], dict(iscrowd=1))],
        h=60,
        w=80)
    resize = dict(type='Resize', scale=(1000, 120), keep_ratio=True)
    load = dict(type='LoadAnnotations', with_bbox=True)
    if pipeline_order == 'resize_first':
        steps = [resize, load]  # mmdet's VOC test pipeline
    else:
        steps = [load, resize]  # gt boxes get resized too
    pipeline = [
        dict(type='LoadImageFromFile'), *steps,
        dict(type='PackCSODInputs')
    ]
    ds = tiny_coco.write().dataset(
        test_mode=True, proposal_file=None, pipeline=pipeline)
    sample = ds[0]['data_samples']
    assert sample.scale_factor == (2.0, 2.0)
    meta = dict(classes=ALL_CLASSES, base_classes=BASE, novel_classes=NOVEL)
    pred = InstanceData()
    pred.bboxes = torch.tensor(
        [[10, 20, 50, 50], [5, 5, 35, 45], [0, 0, 20, 20]],
        dtype=torch.float32)
    pred.scores = torch.tensor([0.9, 0.8, 0.7])
    pred.labels = torch.tensor([0, 3, 1])
    sample.pred_instances = pred
    return sample, meta


def test_samples_packed_by_the_test_pipeline(tiny_coco, monkeypatch):
    logged = []
    monkeypatch.setattr(
        'mmdet_csod.evaluation.metrics.corloc_metric.'
        'print_log', lambda msg, **kw: logged.append(msg))
    # Annotations loaded after Resize stay in original coordinates; the
    # iscrowd dog is an ignored instance and is not counted.
    sample, meta = _packed(tiny_coco, 'resize_first')
    assert len(sample.ignored_instances) == 1
    evaluator = Evaluator(dict(type='CorLocMetric'))
    evaluator.dataset_meta = meta
    evaluator.process(data_samples=[sample], data_batch={})
    res = evaluator.evaluate(1)
    _assert_results(
        res, {
            'corloc/corloc': 1.0,
            'corloc/corloc_base': 1.0,
            'corloc/corloc_novel': 1.0,
            'corloc/corloc_cat': 1.0,
            'corloc/corloc_person': 1.0
        })
    assert not any('resized coordinates' in m for m in logged)


def test_warns_about_gt_in_resized_coordinates(tiny_coco, monkeypatch):
    logged = []
    monkeypatch.setattr(
        'mmdet_csod.evaluation.metrics.corloc_metric.'
        'print_log', lambda msg, **kw: logged.append(msg))
    # LoadAnnotations before Resize: gt scaled by 2, predictions are not.
    sample, meta = _packed(tiny_coco, 'load_first')
    np.testing.assert_allclose(sample.gt_instances.bboxes.numpy()[0],
                               [20, 40, 100, 100])
    metric = CorLocMetric()
    metric.dataset_meta = meta
    res = _evaluate(metric, [sample])
    assert res['corloc'] < 1
    assert any('resized coordinates' in m for m in logged)


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
    return _evaluate(metric, [_sample(gt=gt, preds=preds, ignored=ignored)])


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
    _assert_results(res, dict(corloc=1, corloc_base=1, corloc_cat=1))
    # voc: both are counted; the dog box matches its difficult dog, the
    # horse has no box
    res = _one(gt, preds, 'voc', ignored)
    _assert_results(
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
    res = _evaluate(metric, hand_worked_samples())
    _assert_results(
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
    sample = _sample(
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
    return _evaluate(metric, [sample])


def test_voc_reads_proposals_not_detections():
    # The arg-max proposal decides even where pred_instances would say
    # otherwise; ties go to the earlier proposal.
    gt = [(CAT, [0, 0, 10, 10])]
    hit = _sample(gt=gt, preds=[(CAT, [50, 50, 60, 60], 0.9)])
    hit = _with_proposals(hit, [[50, 50, 60, 60], [0, 0, 10, 10]],
                          [[0.2, 0, 0], [0.7, 0, 0]])
    assert _one_sample(hit, 'voc')['corloc_cat'] == 1
    assert _one_sample(hit, 'project')['corloc_cat'] == 0
    tie = _sample(gt=gt, preds=[])
    tie = _with_proposals(tie, [[50, 50, 60, 60], [0, 0, 10, 10]],
                          [[0.5, 0, 0], [0.5, 0, 0]])
    assert _one_sample(tie, 'voc')['corloc_cat'] == 0
    # no proposals at all: not found (and no fallback)
    empty = _with_proposals(_sample(gt=gt, preds=[]), [], [])
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
        _sample(gt=gt, preds=[]), per_class, [[0.1, 0.9, 0], [0.8, 0.2, 0]])
    res = _one_sample(sample, 'voc')
    assert res['corloc_cat'] == 1 and res['corloc_dog'] == 1
    sample.proposal_instances.scores = torch.tensor([[0.1, 0.2, 0],
                                                     [0.8, 0.9, 0]])
    res = _one_sample(sample, 'voc')
    assert res['corloc_cat'] == 1 and res['corloc_dog'] == 0


def test_voc_proposals_are_checked():
    gt = [(HORSE, [0, 0, 10, 10])]
    bad_shape = _sample(gt=gt, preds=[])
    bad_shape.proposal_instances = InstanceData(
        bboxes=torch.zeros(2, 8), scores=torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r'bboxes \[R, 4\] or \[R, C \* 4\]'):
        _one_sample(bad_shape, 'voc')
    too_few = _sample(gt=gt, preds=[])
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
