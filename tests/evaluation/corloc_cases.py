"""Shared by the CorLocMetric tests: three classes, packed samples and the
hand-worked case."""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.structures import InstanceData

CLASSES = ('cat', 'dog', 'horse')
META = dict(
    classes=CLASSES, base_classes=('cat', 'dog'), novel_classes=('horse', ))
CAT, DOG, HORSE = 0, 1, 2


def packed_sample(gt,
                  preds,
                  ignored=(),
                  ori_shape=(100, 100),
                  boxes_type=True):
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
        packed_sample(
            gt=[(CAT, [0, 0, 50, 50]), (DOG, [50, 50, 100, 100])],
            preds=[(DOG, [50, 50, 100, 100], 0.7),
                   (CAT, [60, 60, 90, 90], 0.2),
                   (HORSE, [0, 0, 50, 50], 0.99),
                   (DOG, [0, 0, 40, 40], 0.8),
                   (CAT, [0, 0, 50, 50], 0.9)]),
        packed_sample(
            gt=[(CAT, [10, 10, 60, 60])],
            ignored=[(HORSE, [0, 0, 100, 100])],
            preds=[(CAT, [70, 70, 90, 90], 0.1),
                   (HORSE, [0, 0, 100, 100], 0.9),
                   (CAT, [10, 10, 60, 55], 0.5),
                   (DOG, [0, 0, 10, 10], 0.3)]),
        packed_sample(
            gt=[(DOG, [0, 0, 40, 40]), (DOG, [50, 50, 90, 90]),
                (HORSE, [20, 20, 80, 80])],
            preds=[(HORSE, [20, 20, 80, 50], 0.4),
                   (DOG, [52, 50, 90, 90], 0.6),
                   (CAT, [20, 20, 80, 80], 0.95),
                   (DOG, [0, 0, 10, 10], 0.05),
                   (HORSE, [0, 0, 10, 10], 0.3)]),
        packed_sample(
            gt=[(CAT, [0, 0, 30, 30]), (HORSE, [40, 40, 90, 90])],
            preds=[]),
        packed_sample(gt=[], preds=[(CAT, [0, 0, 50, 50], 0.9)]),
    ]
    # yapf: enable


EXPECTED = dict(
    corloc=5 / 9,
    corloc_base=7 / 12,
    corloc_novel=1 / 2,
    corloc_cat=2 / 3,
    corloc_dog=1 / 2,
    corloc_horse=1 / 2)


def evaluate(metric, samples):
    """Run a metric directly, as the Evaluator would (dicts)."""
    metric.process({}, [s.to_dict() for s in samples])
    return metric.compute_metrics(metric.results)


def assert_results(res, expected):
    assert set(res) == set(expected)
    for key, value in expected.items():
        assert res[key] == pytest.approx(value, abs=1e-9), key
