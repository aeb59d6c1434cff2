"""oicr_pseudo_labels' low-IoU ignore threshold (``ignore_iou_thr``)."""
import numpy as np
import pytest
import torch
from oicr_reference import (GT_BOX, GT_PROPS, GT_SCORES, box_iou, gt_labels,
                            oicr_reference)

from mmdet_csod.models.utils import oicr_pseudo_labels


# ------------------------------------------------- low-IoU ignore threshold
def test_ignore_iou_thr_worked_example():
    """pcl.pytorch's OICR BG_THRESH: weight 0 under that IoU with every
    seed. Proposal 4 of the worked example overlaps no seed (IoU 0)."""
    props = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30],
                          [21, 20, 30, 30], [50, 50, 60, 60]],
                         dtype=torch.float)
    scores = torch.tensor([[0.9, 0.0, 0.8], [0.5, 0.0, 0.1], [0.1, 0.0, 0.7],
                           [0.0, 0.0, 0.3], [0.0, 0.9, 0.0]])
    image_labels = torch.tensor([1., 0., 1.])
    labels, weights = oicr_pseudo_labels(
        props, scores, image_labels, ignore_iou_thr=0.1)
    assert labels.tolist() == [0, 0, 2, 2, 3]
    assert weights.tolist() == pytest.approx([0.9, 0.9, 0.7, 0.7, 0.0])
    # the threshold is strict: IoU 0.81 (proposal 1) at 0.81 is kept, and
    # 0.9 (proposal 3) at 0.5 too
    labels, weights = oicr_pseudo_labels(
        props, scores, image_labels, iou_thr=0.85, ignore_iou_thr=0.81)
    assert labels.tolist() == [0, 3, 2, 2, 3]
    assert weights.tolist() == pytest.approx([0.9, 0.9, 0.7, 0.7, 0.0])
    labels, weights = oicr_pseudo_labels(
        props,
        scores,
        image_labels,
        iou_thr=0.85,
        weight_mode='iou',
        ignore_iou_thr=0.82)
    assert weights.tolist() == pytest.approx([1.0, 0.0, 1.0, 0.9, 0.0])


@pytest.mark.parametrize('weight_mode', ['seed_score', 'iou'])
def test_ignore_iou_thr_off_is_the_default(weight_mode):
    image_labels = torch.tensor([1., 0., 1.])
    old = oicr_pseudo_labels(
        GT_PROPS, GT_SCORES, image_labels, weight_mode=weight_mode)
    for thr in (None, 0, 0.):
        new = oicr_pseudo_labels(
            GT_PROPS,
            GT_SCORES,
            image_labels,
            weight_mode=weight_mode,
            ignore_iou_thr=thr)
        assert torch.equal(new[0], old[0]) and torch.equal(new[1], old[1])


def _check_ignore(seed, weight_mode):
    """Labels as without it; weights 0 exactly where the max IoU with the
    seeds (loop reference) is below the threshold. Returns the number of
    proposals below it."""
    rng = np.random.default_rng(300 + seed)
    R, C = int(rng.integers(2, 40)), int(rng.integers(1, 5))
    xy = rng.uniform(0, 80, (R, 2))
    wh = rng.uniform(1, 30, (R, 2))
    props = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.random((R, C)).astype(np.float32)
    image_labels = np.zeros(C, dtype=np.float32)
    image_labels[rng.choice(C, min(C, R, int(rng.integers(1, 3))),
                            replace=False)] = 1
    thr = float(rng.choice([0.05, 0.1, 0.3]))
    args = (torch.from_numpy(props), torch.from_numpy(scores),
            torch.from_numpy(image_labels))
    labels, weights = oicr_pseudo_labels(
        *args, weight_mode=weight_mode, ignore_iou_thr=thr)
    ref_l, ref_w = oicr_reference(props, scores, image_labels, 0.5,
                                  weight_mode)
    # the reference's seeds (same loop rule), for the max IoU
    taken, seeds = set(), []
    for c in np.flatnonzero(image_labels > 0):
        best = max((r for r in range(R) if r not in taken),
                   key=lambda r: (scores[r, c], -r))
        taken.add(best)
        seeds.append(best)
    max_iou = np.array(
        [max(box_iou(props[r], props[s]) for s in seeds) for r in range(R)])
    np.testing.assert_array_equal(labels.numpy(), ref_l)
    # IoUs within float error of the threshold are left out
    clear = np.abs(max_iou - thr) > 1e-5
    expect = np.where(max_iou < thr, 0.0, ref_w)
    np.testing.assert_allclose(
        weights.numpy()[clear], expect[clear], rtol=1e-5, atol=1e-6)
    return int((max_iou < thr).sum())


@pytest.mark.parametrize('weight_mode', ['seed_score', 'iou'])
def test_ignore_iou_thr_matches_reference(weight_mode):
    ignored = [_check_ignore(seed, weight_mode) for seed in range(10)]
    assert sum(n > 0 for n in ignored) >= 5  # the rule is exercised


def test_ignore_iou_thr_counts_gt_box_seeds():
    """Seeds: the class-0 box and proposal 2 (class 2). Proposal 4 overlaps
    proposal 2 at 1/3 and the box at 0: ignored at 0.4, kept at 0.3."""
    kw = dict(gt_bboxes=GT_BOX, gt_labels=gt_labels(0))
    image_labels = torch.tensor([1., 0., 1.])
    labels, weights = oicr_pseudo_labels(
        GT_PROPS, GT_SCORES, image_labels, ignore_iou_thr=0.4, **kw)
    assert labels.tolist() == [0, 0, 2, 2, 3]
    assert weights.tolist() == pytest.approx([1.0, 1.0, 0.7, 0.7, 0.0])
    _, weights = oicr_pseudo_labels(
        GT_PROPS, GT_SCORES, image_labels, ignore_iou_thr=0.3, **kw)
    assert weights.tolist() == pytest.approx([1.0, 1.0, 0.7, 0.7, 0.7])


def test_ignore_iou_thr_above_iou_thr_is_an_error():
    with pytest.raises(ValueError, match='ignore_iou_thr'):
        oicr_pseudo_labels(
            GT_PROPS,
            GT_SCORES,
            torch.tensor([1., 0., 1.]),
            iou_thr=0.5,
            ignore_iou_thr=0.6)
