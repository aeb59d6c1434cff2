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


def block_classes(seed: int, split_index: int, image_index: int,
                  classes: Sequence[str], stream: int) -> Tuple[str, str]:
    """Two classes an image starts with: each block of 5 consecutive images
    covers all 10 ``classes`` (a random permutation per block, drawn from
    ``np.random.default_rng([seed, split_index, block, stream])``), so any
    split of 5 images or more holds every class."""
    block, pos = divmod(image_index, 5)
    perm = np.random.default_rng([seed, split_index, block,
                                  stream]).permutation(len(classes))
    return classes[perm[2 * pos]], classes[perm[2 * pos + 1]]


def add_group(rng: np.random.Generator, img: np.ndarray,
              make_group: Callable[[float], Group], boxes: List[List[int]],
              labels: List[int], classes: Sequence[str], must: bool) -> None:
    """Place a group (:func:`place_group`), paste it into ``img`` and append
    its members' boxes and class indices (into ``classes``) to ``boxes`` and
    ``labels``; nothing when it finds no place."""
    h, w = img.shape[:2]
    placed = place_group(rng, make_group, boxes, w, h, must)
    if placed is None:
        return
    for box, name in paste_group(img, *placed):
        boxes.append(box)
        labels.append(classes.index(name))


def scene_arrays(boxes: List[List[int]], labels: List[int], w: int,
                 h: int) -> Tuple[np.ndarray, np.ndarray]:
    """``bboxes`` [N, 4] float32 clipped to the ``w`` x ``h`` image and
    ``labels`` [N] int64 of a scene."""
    bboxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    bboxes[:, 0::2] = bboxes[:, 0::2].clip(0, w)
    bboxes[:, 1::2] = bboxes[:, 1::2].clip(0, h)
    return bboxes, np.asarray(labels, np.int64)
