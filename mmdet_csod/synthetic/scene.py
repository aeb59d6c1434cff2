"""Scene layout: which objects an image holds, their companions (riders,
lamps by houses, optionally bottles carried by carts) and where they are
placed."""
import math
from typing import Callable, Dict, List, Tuple

import numpy as np

from .background import _background
from .objects import BODY_KIND, BODY_SIZE, CLASSES, render_object
from .placement import add_group, block_classes, scene_arrays

IMG_SIZE_RANGE = (224, 320)  # each side, inclusive
NUM_OBJECTS_RANGE = (2, 6)  # inclusive
RIDER_PROB = 0.5  # horses with a person on top
LAMP_BY_HOUSE_PROB = 0.4  # houses with a lamp standing next to them
CART_LOAD_PROB = 0.5  # with cart_loads: carts with a bottle standing in them


def _sample_size(rng: np.random.Generator, cls: str) -> float:
    lo, hi = BODY_SIZE[BODY_KIND[cls]]
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _standing_in(rng: np.random.Generator, carrier: Dict, cls: str,
                 shift: Callable[[np.random.Generator], float]
                 ) -> Tuple[Dict, int, int]:
    """An object of ``cls`` standing in the top of ``carrier``'s body (a
    rider on a horse, a load in a cart): as tall as the body (x0.95-1.2),
    its centre ``shift(rng)`` body widths from the body's, its foot 35-50 %
    down the body. Returns ``(obj, dx, dy)`` relative to the carrier's
    patch."""
    body = carrier['body']
    height, width = body[3] - body[1], body[2] - body[0]
    obj = render_object(rng, cls, height * rng.uniform(0.95, 1.2))
    ob = obj['body']
    cx = (body[0] + body[2]) / 2 + width * shift(rng)
    foot = body[1] + height * rng.uniform(0.35, 0.5)
    dx = int(round(cx - (ob[0] + ob[2]) / 2))
    dy = int(round(foot - ob[3]))
    return obj, dx, dy


def _make_group(rng: np.random.Generator, cls: str, scale: float,
                with_companion: bool) -> List[Tuple[Dict, int, int]]:
    """An object and, optionally, the object it co-occurs with.

    Returns ``[(obj, dx, dy), ...]`` in drawing order, offsets relative to the
    group's top-left corner (all >= 0).
    """
    main = render_object(rng, cls, _sample_size(rng, cls) * scale)
    members = [(main, 0, 0)]
    if with_companion and cls == 'horse':
        # a rider, a little towards the horse's back
        back = -1 if not main['flipped'] else 1
        members.append(
            _standing_in(rng, main, 'person',
                         lambda r: back * r.uniform(0.05, 0.15)))
    elif with_companion and cls == 'cart':
        # a load: a bottle in the cart (both base classes, so the SCM sees
        # boxed examples of a carried object and its carrier)
        members.append(
            _standing_in(rng, main, 'bottle',
                         lambda r: r.uniform(-0.15, 0.15)))
    elif with_companion and cls == 'house':
        hb = main['body']
        lamp = render_object(rng, 'lamp',
                             main['img'].shape[0] * rng.uniform(0.7, 0.95))
        lb = lamp['body']
        gap = int(rng.integers(-2, 5))
        if rng.random() < 0.5:
            dx = main['img'].shape[1] + gap
        else:
            dx = -lamp['img'].shape[1] - gap
        dy = int(round(hb[3] - lb[3]))
        members.append((lamp, dx, dy))
    ox = min(dx for _, dx, _ in members)
    oy = min(dy for _, _, dy in members)
    return [(o, dx - ox, dy - oy) for o, dx, dy in members]


def render_scene(
        seed: int,
        split_index: int,
        image_index: int,
        cart_loads: bool = False
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render image ``image_index`` of split ``split_index``.

    With ``cart_loads`` a cart carries a bottle with probability
    :data:`CART_LOAD_PROB` (a base-class carrier and its load, as a horse
    and its rider are a novel pair); without it the scene is the one
    generator version 1.0 made, byte for byte.

    The image draws from ``np.random.default_rng([seed, split_index,
    image_index])`` (and a per-block stream, see
    :func:`~.placement.block_classes`), so it does not depend on which
    process renders it.

    Returns:
        tuple: ``img`` [H, W, 3] uint8 BGR with H, W in 224..320;
        ``bboxes`` [N, 4] float32 x1, y1, x2, y2 (x2, y2 exclusive, tight
        boxes of the drawn objects, inside the image), 2 <= N <= 6;
        ``labels`` [N] int64 indices into :data:`CLASSES`.
    """
    rng = np.random.default_rng([seed, split_index, image_index])
    h = int(rng.integers(IMG_SIZE_RANGE[0], IMG_SIZE_RANGE[1] + 1))
    w = int(rng.integers(IMG_SIZE_RANGE[0], IMG_SIZE_RANGE[1] + 1))
    img = _background(rng, h, w)
    n_target = int(
        rng.integers(NUM_OBJECTS_RANGE[0], NUM_OBJECTS_RANGE[1] + 1))
    first = list(
        block_classes(seed, split_index, image_index, CLASSES, 0xB10C))
    block_parity = (image_index // 5) % 2 == 0
    queue = first + [
        CLASSES[i] for i in rng.integers(0, len(CLASSES), n_target - 2)
    ]
    boxes: List[List[int]] = []
    labels: List[int] = []
    for qi, cls in enumerate(queue):
        if len(labels) >= NUM_OBJECTS_RANGE[1]:
            break
        room = NUM_OBJECTS_RANGE[1] - len(labels) >= 2
        companion = False
        if room and cls == 'horse':
            # the block's own horse rides on even blocks: a split of 5 images
            # or more always holds a rider; other horses ride at random
            companion = block_parity if qi < 2 else \
                bool(rng.random() < RIDER_PROB)
        elif room and cls == 'cart' and cart_loads:
            companion = bool(rng.random() < CART_LOAD_PROB)
        elif room and cls == 'house':
            companion = bool(rng.random() < LAMP_BY_HOUSE_PROB)
        # the first two objects are always placed: after the last scale they
        # get one more try that ignores the overlap limit
        add_group(
            rng, img, lambda scale: _make_group(rng, cls, scale, companion),
            boxes, labels, CLASSES, must=qi < 2)
    return (img, *scene_arrays(boxes, labels, w, h))
