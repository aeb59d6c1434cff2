"""Shared by the OICR and PCL target tests: a box IoU, the OICR rule written
out one proposal at a time, and a small case with a ground-truth box."""
import numpy as np
import torch


def box_iou(a, b):
    """IoU of two boxes (x1, y1, x2, y2), no +1 widths."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) \
        - inter
    return inter / max(union, 1e-6)


def oicr_reference(props, scores, image_labels, iou_thr, weight_mode):
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
            iou = box_iou(props[r], props[seed[0]])
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


# proposals 0, 1 lie on the class-0 box [0, 0, 10, 10] (IoU 1 and 0.81);
# 3 overlaps 2 at 0.9 and 4 overlaps 2 at 1/3; 4 overlaps no gt box.
GT_PROPS = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30],
                         [21, 20, 30, 30], [25, 20, 35, 30]],
                        dtype=torch.float)
# class 0 scores its top on proposal 4 (away from its box); class 2 scores
# highest on the proposals lying on the class-0 box, then on proposal 2.
GT_SCORES = torch.tensor([[0.2, 0.0, 0.95], [0.1, 0.0, 0.9], [0.0, 0.0, 0.7],
                          [0.0, 0.0, 0.3], [0.6, 0.0, 0.1]])
GT_BOX = torch.tensor([[0., 0., 10., 10.]])


def gt_labels(*labels):
    return torch.tensor(labels, dtype=torch.long)
