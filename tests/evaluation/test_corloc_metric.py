"""CorLocMetric: a hand-worked case, splits, registry, Evaluator, packing
(the 'voc' convention: test_corloc_voc_convention.py)."""
import math

import numpy as np
import pytest
import torch
from conftest import BASE
from conftest import CLASSES as ALL_CLASSES
from conftest import NOVEL
from corloc_cases import (CAT, CLASSES, DOG, EXPECTED, HORSE, META,
                          assert_results, evaluate, hand_worked_samples,
                          packed_sample)
from mmdet.registry import METRICS
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData

import mmdet_csod  # noqa: F401  registers CorLocMetric
from mmdet_csod.evaluation import CorLocMetric


def test_hand_worked_case():
    metric = CorLocMetric()
    metric.dataset_meta = META
    assert_results(evaluate(metric, hand_worked_samples()), EXPECTED)


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
    res = evaluate(metric, hand_worked_samples())
    assert res['corloc_horse'] == 0
    assert res['corloc'] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    with pytest.raises(ValueError, match='iou_thr'):
        CorLocMetric(iou_thr=0)


def test_plain_tensor_boxes_and_score_ties():
    # Ground truth as plain tensors works too; on a score tie the earlier
    # prediction is the top box.
    samples = [
        packed_sample(
            gt=[(CAT, [0, 0, 10, 10])],
            preds=[(CAT, [0, 0, 10, 10], 0.5), (CAT, [50, 50, 60, 60], 0.5)],
            boxes_type=False),
        packed_sample(
            gt=[(CAT, [0, 0, 10, 10])],
            preds=[(CAT, [50, 50, 60, 60], 0.5), (CAT, [0, 0, 10, 10], 0.5)],
            boxes_type=False),
    ]
    metric = CorLocMetric()
    metric.dataset_meta = META
    assert evaluate(metric, samples)['corloc_cat'] == 0.5


def test_uncounted_classes_and_splits_are_left_out():
    metric = CorLocMetric()
    metric.dataset_meta = META
    # Only cat is ever counted: no dog/horse keys, no novel mean.
    res = evaluate(metric, hand_worked_samples()[1:2])
    assert_results(res, dict(corloc=1.0, corloc_base=1.0, corloc_cat=1.0))
    # Without base/novel in dataset_meta there are no split means.
    metric = CorLocMetric()
    metric.dataset_meta = dict(classes=CLASSES)
    res = evaluate(metric, hand_worked_samples())
    assert_results(
        res, {
            k: v
            for k, v in EXPECTED.items()
            if k not in ('corloc_base', 'corloc_novel')
        })
    # Nothing counted at all: CorLoc is undefined.
    metric = CorLocMetric()
    metric.dataset_meta = META
    res = evaluate(metric, hand_worked_samples()[4:])
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
    assert_results(res, {f'corloc/{k}': v for k, v in EXPECTED.items()})
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
    assert_results(res, {f'train/{k}': v for k, v in EXPECTED.items()})


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
    assert_results(
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
    res = evaluate(metric, [sample])
    assert res['corloc'] < 1
    assert any('resized coordinates' in m for m in logged)
