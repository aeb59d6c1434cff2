"""Placing groups of objects in a scene without covering each other, shared
by the scene families (:mod:`.scene`, :mod:`.yard_scene`)."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

Group = List[Tuple[Dict, int, int]]  # (object, dx, dy) from the group's corner

MAX_OVERLAP = 0.2  # intersection / smaller box, between groups
PLACEMENT_SCALES = (1.0, 0.8, 0.64, 0.51, 0.41, 0.33)  # tried in turn


def _overlap(a: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over the smaller box, a [4] against boxes [K, 4]."""
    if len(boxes) == 0:
        return np.zeros(0)
    iw = np.minimum(a[2], boxes[:, 2]) - np.maximum(a[0], boxes[:, 0])
    ih = np.minimum(a[3], boxes[:, 3]) - np.maximum(a[1], boxes[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(np.minimum(area_a, area_b), 1)


def place_group(rng: np.random.Generator,
                make_group: Callable[[float], Group],
                boxes: Sequence[Sequence[int]], w: int, h: int,
                must: bool) -> Optional[Tuple[Group, int, int]]:
    """Find a place for a group in a ``w`` x ``h`` image.

    ``make_group(scale)`` draws the group at a scale; each scale of
    :data:`PLACEMENT_SCALES` gets 25 random positions, a position fits when
    every member overlaps the placed ``boxes`` [K, 4] by at most
    :data:`MAX_OVERLAP`. A group that ``must`` be placed gets one more try at
    the last scale that ignores the overlap limit.

    Returns:
        ``(group, gx, gy)``, the group and its top-left corner, or None.
    """
    tries = PLACEMENT_SCALES + (PLACEMENT_SCALES[-1:] if must else ())
    for attempt, scale in enumerate(tries):
        group = make_group(scale)
        gw = max(dx + o['img'].shape[1] for o, dx, _ in group)
        gh = max(dy + o['img'].shape[0] for o, _, dy in group)
        if gw > w - 4 or gh > h - 4:
            continue
        arr = np.asarray(boxes, np.float64).reshape(-1, 4)
        free = attempt == len(PLACEMENT_SCALES)
        for _ in range(25):
            gx = int(rng.integers(2, w - gw - 1))
            gy = int(rng.integers(2, h - gh - 1))
            mb = [
                np.array([
                    gx + dx, gy + dy, gx + dx + o['img'].shape[1],
                    gy + dy + o['img'].shape[0]
                ], np.float64) for o, dx, dy in group
            ]
            if free or all(
                    (_overlap(b, arr) <= MAX_OVERLAP).all() for b in mb):
                return group, gx, gy
    return None


def paste_group(img: np.ndarray, group: Group, gx: int,
                gy: int) -> List[Tuple[List[int], str]]:
    """Draw a placed group's objects into ``img`` [H, W, 3] in order.

    Returns:
        list: ``([x1, y1, x2, y2], cls)`` of each member, tight boxes.
    """
    out = []
    for o, dx, dy in group:
        x1, y1 = gx + dx, gy + dy
        oh, ow = o['mask'].shape
        region = img[y1:y1 + oh, x1:x1 + ow]
        region[o['mask']] = o['img'][o['mask']]
        out.append(([x1, y1, x1 + ow, y1 + oh], o['cls']))
    return out
