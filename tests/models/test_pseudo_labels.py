"""oicr_pseudo_labels against a worked example and a naive reference."""
import numpy as np
import pytest
import torch
from oicr_reference import (GT_BOX, GT_PROPS, GT_SCORES, box_iou, gt_labels,
                            oicr_reference)

from mmdet_csod.models.utils import oicr_pseudo_labels


def test_worked_example():
    props = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30],
                          [21, 20, 30, 30], [50, 50, 60, 60]],
                         dtype=torch.float)
    # class 0 and class 2 present; proposal 0 is best for both, so class 2
    # (later in class order) gets its next best, proposal 2.
    scores = torch.tensor([[0.9, 0.0, 0.8], [0.5, 0.0, 0.1], [0.1, 0.0, 0.7],
                           [0.0, 0.0, 0.3], [0.0, 0.9, 0.0]])
    labels, weights = oicr_pseudo_labels(props, scores,
                                         torch.tensor([1., 0., 1.]))
    # IoU(1, 0) = 81/100, IoU(3, 2) = 90/100, proposal 4 overlaps nothing
    assert labels.tolist() == [0, 0, 2, 2, 3]
    assert weights.tolist() == pytest.approx([0.9, 0.9, 0.7, 0.7, 0.9])
    labels, weights = oicr_pseudo_labels(
        props, scores, torch.tensor([1., 0., 1.]), weight_mode='iou')
    assert weights.tolist() == pytest.approx([1.0, 0.81, 1.0, 0.9, 0.0])


def test_no_class_present():
    labels, weights = oicr_pseudo_labels(
        torch.rand(4, 4) * 10, torch.rand(4, 3), torch.zeros(3))
    assert labels.tolist() == [3] * 4 and weights.tolist() == [0] * 4


@pytest.mark.parametrize('seed', range(20))
@pytest.mark.parametrize('weight_mode', ['seed_score', 'iou'])
def test_matches_reference_on_random_inputs(seed, weight_mode):
    rng = np.random.default_rng(seed)
    R, C = int(rng.integers(1, 40)), int(rng.integers(1, 6))
    xy = rng.uniform(0, 50, (R, 2))
    wh = rng.uniform(1, 40, (R, 2))
    props = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.random((R, C)).astype(np.float32)
    image_labels = (rng.random(C) < 0.5).astype(np.float32)
    if R < image_labels.sum():
        image_labels[:] = 0
        image_labels[0] = 1
    thr = float(rng.choice([0.3, 0.5, 0.7]))
    labels, weights = oicr_pseudo_labels(
        torch.from_numpy(props),
        torch.from_numpy(scores),
        torch.from_numpy(image_labels),
        iou_thr=thr,
        weight_mode=weight_mode)
    ref_l, ref_w = oicr_reference(props, scores, image_labels, thr,
                                  weight_mode)
    np.testing.assert_array_equal(labels.numpy(), ref_l)
    np.testing.assert_allclose(weights.numpy(), ref_w, rtol=1e-5, atol=1e-6)


def test_shape_errors():
    with pytest.raises(ValueError, match='image_labels'):
        oicr_pseudo_labels(
            torch.zeros(2, 4), torch.zeros(2, 3), torch.zeros(4))
    with pytest.raises(ValueError, match='weight_mode'):
        oicr_pseudo_labels(
            torch.zeros(2, 4),
            torch.zeros(2, 3),
            torch.zeros(3),
            weight_mode='x')


# ------------------------------------------------ ground-truth box seeds
def test_gt_boxes_seed_their_classes_worked_example():
    image_labels = torch.tensor([1., 0., 1.])
    labels, weights = oicr_pseudo_labels(
        GT_PROPS,
        GT_SCORES,
        image_labels,
        gt_bboxes=GT_BOX,
        gt_labels=gt_labels(0))
    # seeds: the class-0 box (score 1) and, for class 2, proposal 2 (0.7):
    # proposals 0 and 1, though class 2's best, lie on the class-0 box
    assert labels.tolist() == [0, 0, 2, 2, 3]
    assert weights.tolist() == pytest.approx([1.0, 1.0, 0.7, 0.7, 0.7])
    labels, weights = oicr_pseudo_labels(
        GT_PROPS,
        GT_SCORES,
        image_labels,
        weight_mode='iou',
        gt_bboxes=GT_BOX,
        gt_labels=gt_labels(0))
    assert labels.tolist() == [0, 0, 2, 2, 3]
    assert weights.tolist() == pytest.approx([1.0, 0.81, 1.0, 0.9, 1 / 3])
    # without the box: class 0 seeds on proposal 4, class 2 on proposal 0
    labels, weights = oicr_pseudo_labels(GT_PROPS, GT_SCORES, image_labels)
    # (2 and 3 overlap proposal 4 below 0.5: background)
    assert labels.tolist() == [2, 2, 3, 3, 0]
    assert weights.tolist() == pytest.approx([0.95, 0.95, 0.6, 0.6, 0.6])


def test_gt_box_weight_is_its_iou_with_the_proposal():
    # a box that matches no proposal exactly
    box = torch.tensor([[0., 0., 10., 12.]])
    labels, weights = oicr_pseudo_labels(
        GT_PROPS,
        GT_SCORES,
        torch.tensor([1., 0., 0.]),
        weight_mode='iou',
        gt_bboxes=box,
        gt_labels=gt_labels(0))
    assert labels.tolist() == [0, 0, 3, 3, 3]
    assert weights.tolist() == pytest.approx([100 / 120, 81 / 120, 0, 0, 0])


def test_class_without_box_never_seeds_on_a_gt_box():
    """Two gt boxes of class 0; class 1 scores highest on every proposal
    lying on one (IoU >= iou_thr) and its seed is the best of the rest."""
    props = torch.tensor(
        [[0, 0, 10, 10], [0, 0, 10, 9], [30, 30, 40, 40], [31, 31, 40, 40],
         [0, 0, 10, 6], [60, 0, 70, 10], [61, 0, 70, 10]],
        dtype=torch.float)
    boxes = torch.tensor([[0., 0., 10., 10.], [30., 30., 40., 40.]])
    # IoU with box 0: 1, 0.9, -, -, 0.6 (all >= 0.5); 3 on box 1 at 0.81
    scores = torch.tensor([[0.1, 0.99], [0.1, 0.98], [0.9, 0.97], [0.1, 0.96],
                           [0.1, 0.95], [0.1, 0.5], [0.1, 0.6]])
    for weight_mode in ('seed_score', 'iou'):
        labels, weights = oicr_pseudo_labels(
            props,
            scores,
            torch.tensor([1., 1.]),
            weight_mode=weight_mode,
            gt_bboxes=boxes,
            gt_labels=gt_labels(0, 0))
        # class 1's seed: proposal 6 (0.6, not on a box), 5 overlaps it
        assert labels.tolist() == [0, 0, 0, 0, 0, 1, 1]
        expect = ([1, 1, 1, 1, 1, 0.6, 0.6] if weight_mode == 'seed_score' else
                  [1, 0.9, 1, 0.81, 0.6, 0.9, 1])
        assert weights.tolist() == pytest.approx(expect)
    # "on a box" is at iou_thr: proposal 7 (IoU 0.4 with box 0, class 1's
    # best after those at >= 0.5) takes the seed at 0.5, not at 0.25
    props = torch.cat([props, torch.tensor([[0., 0., 10., 4.]])])
    scores = torch.cat([scores, torch.tensor([[0.1, 0.9]])])
    labels, _ = oicr_pseudo_labels(
        props,
        scores,
        torch.tensor([1., 1.]),
        iou_thr=0.5,
        gt_bboxes=boxes,
        gt_labels=gt_labels(0, 0))
    # proposal 4 overlaps 7 at 2/3, box 0 at 0.6
    assert labels.tolist() == [0, 0, 0, 0, 1, 2, 2, 1]  # 2: background
    labels, _ = oicr_pseudo_labels(
        props,
        scores,
        torch.tensor([1., 1.]),
        iou_thr=0.25,
        gt_bboxes=boxes,
        gt_labels=gt_labels(0, 0))
    assert labels.tolist() == [0, 0, 0, 0, 0, 1, 1, 0]


def test_gt_box_of_a_class_missing_from_image_labels_still_seeds():
    """A box is stronger evidence than the image labels: class 1, absent
    from the labels, still labels the proposals on its box; the present
    class 2 still may not seed there."""
    image_labels = torch.tensor([0., 0., 1.])
    labels, weights = oicr_pseudo_labels(
        GT_PROPS,
        GT_SCORES,
        image_labels,
        gt_bboxes=GT_BOX,
        gt_labels=gt_labels(1))
    assert labels.tolist() == [1, 1, 2, 2, 3]
    assert weights.tolist() == pytest.approx([1.0, 1.0, 0.7, 0.7, 0.7])


@pytest.mark.parametrize('weight_mode', ['seed_score', 'iou'])
def test_empty_gt_is_the_old_behaviour(weight_mode):
    image_labels = torch.tensor([1., 0., 1.])
    old = oicr_pseudo_labels(
        GT_PROPS, GT_SCORES, image_labels, weight_mode=weight_mode)
    for kw in (dict(gt_bboxes=None, gt_labels=None),
               dict(
                   gt_bboxes=torch.zeros(0, 4),
                   gt_labels=torch.zeros(0, dtype=torch.long))):
        new = oicr_pseudo_labels(
            GT_PROPS, GT_SCORES, image_labels, weight_mode=weight_mode, **kw)
        assert torch.equal(new[0], old[0]) and torch.equal(new[1], old[1])
    # and the gt changes it here (else the check above is void)
    with_gt = oicr_pseudo_labels(
        GT_PROPS,
        GT_SCORES,
        image_labels,
        weight_mode=weight_mode,
        gt_bboxes=GT_BOX,
        gt_labels=gt_labels(0))
    assert not torch.equal(with_gt[0], old[0])


def test_gt_boxes_are_not_differentiated_through():
    box = GT_BOX.clone().requires_grad_()
    labels, weights = oicr_pseudo_labels(
        GT_PROPS,
        GT_SCORES,
        torch.tensor([1., 0., 1.]),
        weight_mode='iou',
        gt_bboxes=box,
        gt_labels=gt_labels(0))
    assert not weights.requires_grad


def _reference_gt(props, scores, image_labels, iou_thr, weight_mode, gt_boxes,
                  gt_labels):
    """The gt rule written out with loops: gt seeds first (score 1), then
    a proposal seed per present class without a box, among the proposals
    not taken and on no gt box."""
    R, C = scores.shape
    seeds = [(tuple(b), int(c), 1.0) for b, c in zip(gt_boxes, gt_labels)]
    taken = set()
    for c in range(C):
        if image_labels[c] <= 0 or c in set(gt_labels.tolist()):
            continue
        best, best_s = None, -np.inf
        for r in range(R):
            on_gt = any(box_iou(props[r], b) >= iou_thr for b in gt_boxes)
            if r not in taken and not on_gt and scores[r, c] > best_s:
                best, best_s = r, scores[r, c]
        assert best is not None  # the caller leaves enough proposals
        taken.add(best)
        seeds.append((tuple(props[best]), c, scores[best, c]))
    labels, weights = [], []
    for r in range(R):
        best_iou, best_seed = -1.0, None
        for seed in seeds:
            iou = box_iou(props[r], seed[0])
            if iou > best_iou:
                best_iou, best_seed = iou, seed
        labels.append(best_seed[1] if best_iou >= iou_thr else C)
        weights.append(best_seed[2] if weight_mode ==
                       'seed_score' else best_iou)
    return np.array(labels), np.array(weights)


@pytest.mark.parametrize('seed', range(20))
@pytest.mark.parametrize('weight_mode', ['seed_score', 'iou'])
def test_gt_seeds_match_reference_on_random_inputs(seed, weight_mode):
    rng = np.random.default_rng(100 + seed)
    R, C = int(rng.integers(4, 40)), int(rng.integers(2, 6))
    xy = rng.uniform(0, 50, (R, 2))
    wh = rng.uniform(1, 40, (R, 2))
    props = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.random((R, C)).astype(np.float32)
    image_labels = (rng.random(C) < 0.6).astype(np.float32)
    image_labels[rng.integers(C)] = 1
    present = np.flatnonzero(image_labels)
    # boxes of some present classes, near (jittered) proposals so that
    # proposals lie on them
    G = int(rng.integers(1, 4))
    gt_labels = rng.choice(present, G)
    gt_boxes = (props[rng.choice(R, G)] + rng.uniform(-2, 2, (G, 4))).astype(
        np.float32)
    gt_boxes[:, 2:] = np.maximum(gt_boxes[:, 2:], gt_boxes[:, :2] + 1)
    thr = float(rng.choice([0.3, 0.5, 0.7]))
    free = sum(not any(box_iou(p, b) >= thr for b in gt_boxes) for p in props)
    if free < len(set(present) - set(gt_labels.tolist())):
        pytest.skip('fewer free proposals than classes to seed')
    labels, weights = oicr_pseudo_labels(
        torch.from_numpy(props),
        torch.from_numpy(scores),
        torch.from_numpy(image_labels),
        iou_thr=thr,
        weight_mode=weight_mode,
        gt_bboxes=torch.from_numpy(gt_boxes),
        gt_labels=torch.from_numpy(gt_labels))
    ref_l, ref_w = _reference_gt(props, scores, image_labels, thr, weight_mode,
                                 gt_boxes, gt_labels)
    np.testing.assert_array_equal(labels.numpy(), ref_l)
    np.testing.assert_allclose(weights.numpy(), ref_w, rtol=1e-5, atol=1e-6)


def test_no_free_proposal_gives_no_seed():
    """Every proposal lies on the class-0 box: class 1 (present, no box)
    has nowhere to seed and must not take a proposal on the box."""
    props = torch.tensor([[0., 0., 10., 10.], [0., 0., 10., 9.]])
    scores = torch.tensor([[0.1, 0.5], [0.1, 0.9]])
    labels, weights = oicr_pseudo_labels(
        props,
        scores,
        torch.tensor([1., 1.]),
        gt_bboxes=torch.tensor([[0., 0., 10., 9.5]]),
        gt_labels=gt_labels(0))
    assert labels.tolist() == [0, 0]
    assert weights.tolist() == [1.0, 1.0]
