"""The yard scenes: a second scene family, for checking a method on scenes it
was not developed on (``make_synthetic.py --family yard``).

Other objects (:mod:`.yard_objects`), another background (a tiled floor under a
papered wall) and other configurations than :mod:`.scene`: a bird perches on
half of the dogs (a novel class riding a novel class, its box over the top of
the dog's), a cup stands on half of the tables (a novel class on a base one),
a flower stands close beside 40 % of the doors (touching), and the robot
always stands free. No base object carries or touches another one, so a
method whose SCM needs base examples of those configurations gets none.
In the cross-supervised split of the README the first five classes are base.
"""
import math
from typing import Dict, List, Tuple

import cv2
import numpy as np

from .drawing import _pt
from .placement import Group, add_group, block_classes, scene_arrays
from .yard_objects import YARD_BODY, YARD_CLASSES, render_yard_object

IMG_SIZE_RANGE = (224, 320)  # each side, inclusive
NUM_OBJECTS_RANGE = (2, 6)  # inclusive
BIRD_ON_DOG_PROB = 0.5
CUP_ON_TABLE_PROB = 0.5
FLOWER_BY_DOOR_PROB = 0.4


def _yard_background(rng: np.random.Generator, h: int,
                     w: int) -> np.ndarray:
    """[h, w, 3] uint8: a papered wall (stripes or a grid of dots) over a
    tiled floor, noise and small clutter rings and bars (not objects)."""
    wall = rng.uniform(70, 230, 3)
    paper = wall + rng.uniform(-40, 40, 3)
    img = np.empty((h, w, 3), np.float32)
    img[:] = wall
    yy, xx = np.mgrid[:h, :w]
    period = int(rng.integers(10, 30))
    if rng.random() < 0.5:
        sel = (xx // period) % 2 == 0
    else:
        sel = ((xx % period) - period / 2)**2 + ((yy % period) -
                                                 period / 2)**2 < 9
    img[sel] = paper
    horizon = int(h * rng.uniform(0.5, 0.8))
    tile = int(rng.integers(14, 40))
    t1, t2 = rng.uniform(40, 200, 3), rng.uniform(40, 200, 3)
    floor = ((xx // tile + yy // max(4, tile // 2)) % 2 == 0)[horizon:]
    img[horizon:] = np.where(floor[..., None], t1, t2)
    img += rng.normal(0, rng.uniform(3, 9), (h, w, 1)).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(5, 20))):
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), int(rng.integers(3, 9)), color,
                       int(rng.integers(1, 3)))
        else:
            a, ln = rng.uniform(0, math.pi), rng.uniform(8, 26)
            cv2.line(img, (x, y),
                     _pt(x + ln * math.cos(a), y + ln * math.sin(a)), color,
                     int(rng.integers(2, 5)))
    return img


def _sample_size(rng: np.random.Generator, cls: str) -> float:
    lo, hi = YARD_BODY[cls][0]
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _yard_group(rng: np.random.Generator, cls: str, scale: float,
                with_companion: bool) -> Group:
    """An object and, optionally, its companion; offsets from the group's
    top-left corner, in drawing order."""
    main = render_yard_object(rng, cls, _sample_size(rng, cls) * scale)
    members = [(main, 0, 0)]
    x1, y1, x2, y2 = main['body']
    bw = x2 - x1
    if with_companion and cls == 'dog':
        # a bird on the dog's back, its feet a little into the back
        bird = render_yard_object(rng, 'bird', bw * rng.uniform(0.3, 0.42))
        bb = bird['body']
        back = x1 + bw * (rng.uniform(0.15, 0.45) if not main['flipped'] else
                          rng.uniform(0.55, 0.85))
        dx = int(round(back - (bb[0] + bb[2]) / 2))
        dy = int(round(y1 + (y2 - y1) * 0.15 - bb[3]))
        members.append((bird, dx, dy))
    elif with_companion and cls == 'table':
        cup = render_yard_object(rng, 'cup', bw * rng.uniform(0.22, 0.32))
        cb = cup['body']
        dx = int(round(x1 + bw * rng.uniform(0.25, 0.75) -
                       (cb[0] + cb[2]) / 2))
        dy = int(round(y1 + 1 - cb[3]))
        members.append((cup, dx, dy))
    elif with_companion and cls == 'door':
        flower = render_yard_object(rng, 'flower',
                                    (y2 - y1) * rng.uniform(0.35, 0.5))
        fb = flower['body']
        gap = int(rng.integers(-3, 3))
        if rng.random() < 0.5:
            dx = int(round(x2 + gap - fb[0]))
        else:
            dx = int(round(x1 - gap - fb[2]))
        dy = int(round(y2 - fb[3]))
        members.append((flower, dx, dy))
    ox = min(dx for _, dx, _ in members)
    oy = min(dy for _, _, dy in members)
    return [(o, dx - ox, dy - oy) for o, dx, dy in members]


_COMPANION_PROB: Dict[str, float] = dict(
    dog=BIRD_ON_DOG_PROB,
    table=CUP_ON_TABLE_PROB,
    door=FLOWER_BY_DOOR_PROB)


def render_yard_scene(
        seed: int,
        split_index: int,
        image_index: int,
        cart_loads: bool = False
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render yard image ``image_index`` of split ``split_index``.

    Drawn from ``np.random.default_rng([seed, split_index, image_index,
    0x7A2D])`` and a per-block stream; ``cart_loads`` is not used (the
    signature is :func:`~.scene.render_scene`'s, and a given ``True`` is an
    error).

    Returns:
        tuple: ``img`` [H, W, 3] uint8 BGR with H, W in 224..320; ``bboxes``
        [N, 4] float32 x1, y1, x2, y2 (x2, y2 exclusive), 2 <= N <= 6;
        ``labels`` [N] int64 indices into :data:`YARD_CLASSES`.
    """
    if cart_loads:
        raise ValueError('the yard scenes have no carts: cart_loads must be '
                         'False')
    rng = np.random.default_rng([seed, split_index, image_index, 0x7A2D])
    h = int(rng.integers(IMG_SIZE_RANGE[0], IMG_SIZE_RANGE[1] + 1))
    w = int(rng.integers(IMG_SIZE_RANGE[0], IMG_SIZE_RANGE[1] + 1))
    img = _yard_background(rng, h, w)
    n_target = int(
        rng.integers(NUM_OBJECTS_RANGE[0], NUM_OBJECTS_RANGE[1] + 1))
    queue = list(
        block_classes(seed, split_index, image_index, YARD_CLASSES, 0x7A2D)
    ) + [
        YARD_CLASSES[i]
        for i in rng.integers(0, len(YARD_CLASSES), n_target - 2)
    ]
    block_parity = (image_index // 5) % 2 == 0
    boxes: List[List[int]] = []
    labels: List[int] = []
    for qi, cls in enumerate(queue):
        if len(labels) >= NUM_OBJECTS_RANGE[1]:
            break
        companion = False
        if NUM_OBJECTS_RANGE[1] - len(labels) >= 2 and cls in _COMPANION_PROB:
            # the block's own dog carries a bird on even blocks, so a split
            # of 5 images or more holds a riding bird
            if cls == 'dog' and qi < 2:
                companion = block_parity
            else:
                companion = bool(rng.random() < _COMPANION_PROB[cls])
        add_group(
            rng, img, lambda scale: _yard_group(rng, cls, scale, companion),
            boxes, labels, YARD_CLASSES, must=qi < 2)
    return (img, *scene_arrays(boxes, labels, w, h))
