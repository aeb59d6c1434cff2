"""oicr_pseudo_labels against a worked example and a naive reference."""
import numpy as np
import pytest
import torch

from mmdet_csod.models.utils import oicr_pseudo_labels


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) \
        - inter
    return inter / max(union, 1e-6)


def _reference(props, scores, image_labels, iou_thr, weight_mode):
    """The rule written out with loops, one proposal at a time."""
    R, C = scores.shape
    taken, seeds = set(), []
    for c in range(C):
        if image_labels[c] <= 0:
            continue
        best, best_s = None, -np.inf
        for r in range(R):
            if r not in taken and scores[r, c] > best_s:
                best, best_s = r, scores[r, c]
        taken.add(best)
        seeds.append((best, c, scores[best, c]))
    labels, weights = [], []
    for r in range(R):
        best_iou, best_seed = -1.0, None
        for seed in seeds:
            iou = _iou(props[r], props[seed[0]])
            if iou > best_iou:
                best_iou, best_seed = iou, seed
        if best_seed is None:
            labels.append(C)
            weights.append(0.0)
            continue
        labels.append(best_seed[1] if best_iou >= iou_thr else C)
        weights.append(best_seed[2] if weight_mode ==
                       'seed_score' else best_iou)
    return np.array(labels), np.array(weights)


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
    ref_l, ref_w = _reference(props, scores, image_labels, thr, weight_mode)
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
