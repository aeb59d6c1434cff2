"""Box IoU and proposal recall on the generated data."""
from typing import Dict, Sequence

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix [N, K] of boxes a [N, 4] and b [K, 4] (x1, y1, x2, y2)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - \
        np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - \
        np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def proposal_recall(
    gt_bboxes: Sequence[np.ndarray],
    proposals: Sequence[np.ndarray],
    iou_thrs: Sequence[float] = (0.5, 0.7)
) -> Dict[float, float]:
    """Fraction of ground-truth boxes with some proposal at IoU >= thr.

    Args:
        gt_bboxes (Sequence[np.ndarray]): Per image [N_i, 4] x1, y1, x2, y2.
        proposals (Sequence[np.ndarray]): Per image [K_i, 4].
        iou_thrs (Sequence[float]): Thresholds.

    Returns:
        dict: threshold -> recall in [0, 1].
    """
    best = []
    for gt, props in zip(gt_bboxes, proposals):
        gt = np.asarray(gt).reshape(-1, 4)
        if len(gt) == 0:
            continue
        if len(props) == 0:
            best.append(np.zeros(len(gt)))
        else:
            best.append(box_iou(gt, props).max(axis=1))
    best = np.concatenate(best) if best else np.zeros(0)
    return {
        float(t): float((best >= t).mean()) if len(best) else 0.0
        for t in iou_thrs
    }
