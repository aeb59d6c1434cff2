"""StageDiagnostics on hand-made boxes with known answers."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from mmdet_csod.evaluation.stage_diagnostics import (StageDiagnostics,
                                                     flatten_results,
                                                     format_table,
                                                     load_full_gt,
                                                     summary_line,
                                                     touching_boxes)

BASE, NOVEL = [0, 1], [2, 3]


def _inst(boxes, labels, scores=None, **extra):
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    labels = torch.tensor(labels, dtype=torch.long)
    if scores is None:
        scores = [1.] * len(labels)
    out = InstanceData(bboxes=boxes, labels=labels,
                       scores=torch.tensor(scores, dtype=torch.float32))
    for k, v in extra.items():
        out[k] = torch.tensor(v)
    return out


def _gt(boxes, labels, ignore=None):
    return dict(
        bboxes=np.array(boxes, np.float32).reshape(-1, 4),
        labels=np.array(labels, np.int64),
        ignore=np.zeros(len(labels), bool) if ignore is None else np.array(
            ignore, bool))


def _empty():
    return _inst([], [])


def _core(figures):
    """The figures every stage has, without where missed boxes landed."""
    return {
        k: figures[k]
        for k in ('corloc', 'mean_iou', 'count', 'area_ratio')
    }


def test_touching_boxes_gap_of_one_pixel():
    boxes = [
        [0, 0, 10, 10],
        [11, 0, 20, 10],  # 1 px to the right of the first: touching
        [40, 40, 50, 50],  # alone
        [21.5, 0, 30, 10],  # 1.5 px from the second: not touching
        [51, 51, 60, 60],  # 1 px off the third along both axes: touching
    ]
    assert touching_boxes(boxes).tolist() == [True, True, True, False, True]
    assert touching_boxes(boxes, gap=2).tolist() == [True] * 5
    assert touching_boxes(np.zeros((0, 4))).shape == (0, )
    # overlap and containment touch too
    assert touching_boxes([[0, 0, 10, 10], [2, 2, 5, 5]]).all()


def test_top_box_hits_and_misses():
    diag = StageDiagnostics(BASE, NOVEL)
    gt = _gt([[0, 0, 10, 10], [50, 50, 70, 70]], [0, 2])
    rec = _inst(
        [[0, 0, 10, 10],  # base: IoU 1
         [50, 50, 60, 60],  # novel top box: IoU 100 / 400
         [50, 50, 70, 70]],  # exact, but scored lower: not the top box
        [0, 2, 2], [0.9, 0.8, 0.7])
    diag.add(dict(rec=rec, scm=None, pseudo=_empty(), det=_empty()), gt)
    res = diag.compute()
    assert 'scm' not in res  # no SCM: no scm figures
    assert res['rec']['base']['all'] == dict(
        corloc=100., mean_iou=100., count=1, area_ratio=1., part=0.,
        too_large=0., on_other=0., elsewhere=0.)
    # a quarter of its object
    assert res['rec']['novel']['all'] == dict(
        corloc=0., mean_iou=25., count=1, area_ratio=.25, part=100.,
        too_large=0., on_other=0., elsewhere=0.)
    # both objects stand free
    assert res['rec']['novel']['free']['count'] == 1
    assert res['rec']['novel']['touching'] == dict(
        corloc=None, mean_iou=None, count=0, area_ratio=None, part=None,
        too_large=None, on_other=None, elsewhere=None)
    # the detection head boxed nothing: a miss on every pair, AP 0
    assert res['det']['base']['all']['corloc'] == 0.
    assert res['det']['novel']['all']['ap50'] == 0.
    # the pseudo stage boxed nothing and has no classes given: no pairs
    assert res['pseudo']['novel']['all']['count'] == 0


def test_iou_is_against_the_pairs_own_class_only():
    diag = StageDiagnostics(BASE, NOVEL)
    # the novel box sits exactly on the base object
    gt = _gt([[0, 0, 10, 10], [30, 0, 40, 10]], [0, 2])
    diag.add(dict(rec=_inst([[0, 0, 10, 10]], [2]), det=_empty()), gt)
    assert diag.compute()['rec']['novel']['all']['corloc'] == 0.


def test_touching_and_free_pairs_are_split():
    diag = StageDiagnostics(BASE, NOVEL)
    gt = _gt(
        [
            [0, 0, 10, 10],  # cls 0, touches the cls 2 box below
            [10.5, 0, 20, 10],  # cls 2
            [50, 50, 60, 60],  # cls 3, free
            [80, 0, 90, 10],  # cls 1, free
        ],
        [0, 2, 3, 1])
    rec = _inst([[0, 0, 10, 10], [10.5, 0, 20, 10], [0, 0, 5, 5],
                 [80, 0, 90, 10]], [0, 2, 3, 1])
    diag.add(dict(rec=rec, det=_empty()), gt)
    res = diag.compute()['rec']
    assert _core(res['novel']['touching']) == dict(
        corloc=100., mean_iou=100., count=1, area_ratio=1.)
    # a box off its object: the ratio to the class's first box
    assert _core(res['novel']['free']) == dict(
        corloc=0., mean_iou=0., count=1, area_ratio=.25)
    # ... on the class-0 object
    assert res['novel']['free']['on_other'] == 100.
    assert _core(res['novel']['all']) == dict(
        corloc=50., mean_iou=50., count=2, area_ratio=.625)
    assert res['base']['touching']['count'] == 1
    assert res['base']['free']['count'] == 1


def test_two_objects_of_one_class_touching_each_other():
    diag = StageDiagnostics(BASE, NOVEL)
    gt = _gt([[0, 0, 10, 10], [10, 0, 20, 10], [50, 50, 60, 60]], [2, 2, 3])
    diag.add(dict(rec=_inst([[0, 0, 20, 10], [50, 50, 60, 60]], [2, 3]),
                  det=_empty()), gt)
    res = diag.compute()['rec']['novel']
    # the box over both objects: IoU 0.5 with each
    assert _core(res['touching']) == dict(
        corloc=100., mean_iou=50., count=1, area_ratio=2.)
    assert _core(res['free']) == dict(
        corloc=100., mean_iou=100., count=1, area_ratio=1.)


def test_area_ratio_against_the_object_of_the_class_it_covers_most():
    diag = StageDiagnostics(BASE, NOVEL)
    # class 2: two objects; class 0 beside the first
    gt = _gt([[0, 0, 10, 10], [40, 0, 60, 20], [10, 0, 30, 10]], [2, 2, 0])
    # class 2's top box spans its first object and the class-0 object
    # (300 px over 100), the lower one is not measured; class 0 boxed at
    # 200 px inside the second class-2 object, off its own
    rec = _inst([[0, 0, 30, 10], [40, 0, 60, 20], [40, 0, 60, 10]],
                [2, 2, 0], [0.9, 0.1, 0.9])
    diag.add(dict(rec=rec, det=_empty()), gt)
    res = diag.compute()['rec']
    assert res['novel']['all']['area_ratio'] == pytest.approx(3.)
    assert res['base']['all']['area_ratio'] == pytest.approx(1.)


def test_fallback_rate_and_ignored_objects():
    diag = StageDiagnostics(BASE, NOVEL)
    for i in range(4):
        gt = _gt([[0, 0, 10, 10], [40, 40, 50, 50], [0, 40, 10, 50]],
                 [2, 0, 3], ignore=[False, False, True])
        scm = _inst([[0, 0, 10, 10], [40, 40, 50, 50], [0, 40, 10, 50]],
                    [2, 0, 3], from_fallback=[i == 0, True, False])
        diag.add(dict(rec=scm, scm=scm, det=_empty()), gt)
    res = diag.compute()['scm']
    assert res['novel']['all']['fallback'] == 25.
    assert res['base']['all']['fallback'] == 100.
    # class 3 has only an ignored (crowd) box: never a pair
    assert res['novel']['all']['count'] == 4


def test_stage_classes_count_missing_boxes_as_misses():
    diag = StageDiagnostics(
        BASE, NOVEL, stage_classes=dict(rec=NOVEL, pseudo=NOVEL))
    gt = _gt([[0, 0, 10, 10], [40, 40, 50, 50], [70, 0, 80, 10]], [0, 2, 3])
    rec = _inst([[0, 0, 10, 10], [40, 40, 50, 50]], [0, 2])
    # two pseudo boxes of class 2, the higher-scoring one right; none of 3
    pseudo = _inst([[40, 40, 45, 45], [40, 40, 50, 50]], [2, 2], [0.1, 0.9],
                   from_fallback=[False, False])
    diag.add(dict(rec=rec, pseudo=pseudo, det=_empty()), gt)
    res = diag.compute()
    # rec: base classes are not its classes here, class 3 is missing
    assert res['rec']['base']['all']['count'] == 0
    # the missing box has no ratio
    assert _core(res['rec']['novel']['all']) == dict(
        corloc=50., mean_iou=50., count=2, area_ratio=1.)
    assert res['pseudo']['novel']['all']['corloc'] == 50.
    assert res['pseudo']['novel']['all']['boxes_per_pair'] == 1.
    assert res['pseudo']['base']['all']['boxes_per_pair'] is None


def test_ap50_with_the_other_configuration_ignored():
    diag = StageDiagnostics(BASE, NOVEL)
    # image A: the novel object touches a base object
    gt_a = _gt([[0, 0, 20, 20], [20, 0, 40, 20]], [0, 2])
    det_a = _inst([[20, 0, 40, 20], [0, 0, 20, 20]], [2, 0], [0.9, 0.5])
    # image B: a free novel object; a wrong box scored above the right one
    gt_b = _gt([[50, 50, 70, 70]], [2])
    det_b = _inst([[0, 0, 10, 10], [50, 50, 70, 70]], [2, 2], [0.97, 0.95])
    diag.add(dict(rec=det_a, det=det_a), gt_a)
    diag.add(dict(rec=det_b, det=det_b), gt_b)
    res = diag.compute()['det']
    # all: FP 0.97, TP 0.95, TP 0.9 -> precision 2/3 up to recall 1
    assert res['novel']['all']['ap50'] == pytest.approx(200 / 3)
    # touching: B's object is ignored, so 0.95 is neither TP nor FP:
    # FP 0.97, TP 0.9 -> 50 (33.3 if B's right box counted as a FP)
    assert res['novel']['touching']['ap50'] == pytest.approx(50.)
    # free: A's object ignored: FP 0.97, TP 0.95 -> 50
    assert res['novel']['free']['ap50'] == pytest.approx(50.)
    assert res['base']['all']['ap50'] == pytest.approx(100.)
    assert res['base']['touching']['ap50'] == pytest.approx(100.)
    assert res['base']['free']['ap50'] is None  # no free base object
    # CorLoc of the det stage: top box per class
    assert res['novel']['touching']['corloc'] == 100.
    assert res['novel']['free']['corloc'] == 0.


def test_flat_keys_table_and_summary():
    diag = StageDiagnostics(BASE, NOVEL)
    gt = _gt([[0, 0, 10, 10], [50, 50, 70, 70]], [0, 2])
    rec = _inst([[0, 0, 10, 10], [50, 50, 70, 70]], [0, 2])
    diag.add(dict(rec=rec, scm=None, pseudo=rec[1:], det=rec), gt)
    res = diag.compute()
    flat = flatten_results(res)
    assert flat['diag/rec_novel_all_corloc'] == 100.
    assert flat['diag/det_base_free_ap50'] == 100.
    assert 'diag/rec_novel_touching_corloc' not in flat  # None left out
    assert all(v is not None and np.isfinite(v) for v in flat.values())
    table = format_table(res)
    assert 'pseudo' in table and 'touching' in table
    assert summary_line(res).startswith('base/novel: rec corloc 100.0/')


def test_load_full_gt_keeps_novel_and_crowd_boxes(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [0, 0, 10, 10]),
                                  ('horse', [20, 20, 10, 5]),
                                  ('person', [1, 1, 30, 30], dict(iscrowd=1)),
                                  ('dog', [5, 5, 0.5, 10])], write=False)
    tiny_coco.add_image('b.jpg', [('dog', [0, 0, 4, 4])], write=False)
    tiny_coco.write()
    gt = load_full_gt(tiny_coco.root + '/ann.json',
                      ('cat', 'dog', 'horse', 'person'))
    assert sorted(gt) == [1, 2]
    assert gt[1]['labels'].tolist() == [0, 2, 3]  # degenerate dog left out
    assert gt[1]['ignore'].tolist() == [False, False, True]
    np.testing.assert_allclose(gt[1]['bboxes'][1], [20, 20, 30, 25])
    only = load_full_gt(tiny_coco.root + '/ann.json',
                        ('cat', 'dog', 'horse', 'person'), img_ids=[2])
    assert list(only) == [2]


def test_per_class_figures():
    diag = StageDiagnostics(BASE, NOVEL)
    # image 1: class 0 hit, class 2 missed (IoU 1/4)
    diag.add(
        dict(rec=_inst([[0, 0, 10, 10], [50, 50, 60, 60]], [0, 2]),
             det=_inst([[0, 0, 10, 10], [50, 50, 70, 70]], [0, 2])),
        _gt([[0, 0, 10, 10], [50, 50, 70, 70]], [0, 2]))
    # image 2: class 2 hit
    diag.add(
        dict(rec=_inst([[5, 5, 25, 25]], [2]), det=_inst([], [])),
        _gt([[5, 5, 25, 25]], [2]))
    per = diag.compute_per_class()
    assert _core(per['rec'][0]) == dict(
        corloc=100., mean_iou=100., count=1, area_ratio=1.)
    assert _core(per['rec'][2]) == dict(
        corloc=50., mean_iou=62.5, count=2, area_ratio=.625)
    assert 3 not in per['rec']  # no pair of class 3
    # det: class 2 hit once (image 1), missed on image 2; AP of the class
    assert per['det'][2]['corloc'] == 50.
    assert per['det'][2]['ap50'] == pytest.approx(50.)
    assert per['det'][0]['ap50'] == pytest.approx(100.)
    # the grouped figures are unchanged by the per-class bookkeeping
    assert diag.compute()['rec']['novel']['all']['corloc'] == 50.


def test_where_missed_boxes_landed():
    """A missed top box is a part of its object, too large around it, on
    another object (the carrier beside it) or elsewhere; a pair without a
    box is none of them."""
    gt = _gt([[0, 0, 40, 40], [40, 0, 100, 40], [0, 60, 20, 80],
              [60, 60, 80, 80], [200, 200, 220, 220]], [2, 0, 3, 1, 2])
    diag = StageDiagnostics(BASE, NOVEL, stage_classes=dict(rec=BASE + NOVEL))
    # class 2 (two objects): a quarter of the first object; class 3: three
    # times its object around it; class 1: its object; class 0: nothing
    rec = _inst([[0, 0, 20, 20], [0, 55, 30, 85], [60, 60, 80, 80]],
                [2, 3, 1])
    diag.add(dict(rec=rec), gt)
    res = diag.compute()['rec']
    novel, base = res['novel']['all'], res['base']['all']
    assert novel['corloc'] == 0.
    assert (novel['part'], novel['too_large'], novel['on_other'],
            novel['elsewhere']) == (50., 50., 0., 0.)
    assert base['corloc'] == 50. and all(
        base[k] == 0. for k in ('part', 'too_large', 'on_other',
                                'elsewhere'))  # class 0 has no box
    # on the neighbour: the box of class 2 mostly on the base object beside
    # it; elsewhere: away from every object
    diag = StageDiagnostics(BASE, NOVEL)
    diag.add(dict(rec=_inst([[30, 0, 100, 40], [120, 120, 130, 130]],
                            [2, 3])), gt)
    novel = diag.compute()['rec']['novel']['all']
    assert (novel['part'], novel['too_large'], novel['on_other'],
            novel['elsewhere']) == (0., 0., 50., 50.)
    assert 'part' in format_table(diag.compute())
