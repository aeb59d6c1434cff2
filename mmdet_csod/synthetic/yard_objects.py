"""The yard scenes' objects: ten other classes, each a body of a shape, colour
and pattern drawn from pools shared by all of them, plus the class's part
(:mod:`.yard_parts`), rendered onto a tight patch.

Not the objects of :mod:`.objects`: other classes, other body shapes (hexagons,
octagons, trapezoids...), other patterns (checks, diagonals, frames, speckles),
other colours and per-class proportions, so that a method developed on the
first family can be checked on this one.
"""
import math
from typing import Dict

import cv2
import numpy as np

from .drawing import _Canvas, _jitter, _poly, _pt
from .yard_parts import YARD_PARTS

YARD_CLASSES = ('truck', 'table', 'barrel', 'door', 'balloon', 'dog', 'bird',
                'cup', 'flower', 'robot')

#: Per class: the body's longer side in pixels (sampled log-uniformly) and
#: its height / width.
YARD_BODY = dict(
    truck=((60, 170), (0.4, 0.55)),
    table=((60, 160), (0.12, 0.2)),
    barrel=((40, 120), (1.2, 1.6)),
    door=((60, 150), (1.9, 2.4)),
    balloon=((30, 90), (1.1, 1.3)),
    dog=((55, 150), (0.45, 0.6)),
    bird=((24, 60), (0.75, 0.95)),
    cup=((26, 70), (0.9, 1.2)),
    flower=((35, 90), (1.3, 1.7)),
    robot=((50, 140), (1.6, 2.0)))

YARD_PALETTE = np.array(
    [
        (200, 200, 60),  # turquoise
        (80, 80, 80),  # charcoal
        (60, 180, 180),  # khaki
        (170, 100, 170),  # lilac
        (40, 90, 60),  # moss
        (120, 60, 30),  # navy
        (100, 100, 200),  # salmon
        (190, 190, 190),  # silver
        (30, 110, 140),  # ochre
        (150, 170, 110),  # sea green
    ],
    dtype=np.float64)
YARD_SHAPES = ('rect', 'rounded', 'hexagon', 'octagon', 'trapezoid',
               'ellipse')
YARD_PATTERNS = ('plain', 'checker', 'diagonal', 'frame', 'speckle')


def _shape_fn(shape: str, x1: float, y1: float, x2: float, y2: float):
    """``fn(layer, colour)`` filling the body ``shape`` in the box."""
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    if shape == 'ellipse':
        return lambda m, c: cv2.ellipse(m, _pt(cx, cy), _pt(
            w / 2 - 0.5, h / 2 - 0.5), 0, 0, 360, c, -1)
    if shape == 'hexagon':
        k = min(w, h) * 0.3
        pts = [(x1 + k, y1), (x2 - k, y1), (x2, cy), (x2 - k, y2),
               (x1 + k, y2), (x1, cy)]
    elif shape == 'octagon':
        k = min(w, h) * 0.28
        pts = [(x1 + k, y1), (x2 - k, y1), (x2, y1 + k), (x2, y2 - k),
               (x2 - k, y2), (x1 + k, y2), (x1, y2 - k), (x1, y1 + k)]
    elif shape == 'trapezoid':
        k = w * 0.12
        pts = [(x1 + k, y1), (x2 - k, y1), (x2, y2), (x1, y2)]
    elif shape == 'rounded':
        r = int(round(min(w, h) * 0.3))

        def fn(m, c):
            cv2.rectangle(m, _pt(x1 + r, y1), _pt(x2 - r, y2), c, -1)
            cv2.rectangle(m, _pt(x1, y1 + r), _pt(x2, y2 - r), c, -1)
            for px in (x1 + r, x2 - r):
                for py in (y1 + r, y2 - r):
                    cv2.circle(m, _pt(px, py), r, c, -1)

        return fn
    else:
        pts = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    pts = [(x, min(y, y2 - 1)) for x, y in pts]
    return lambda m, c: cv2.fillPoly(m, _poly(pts), c)


def _pattern_layer(rng: np.random.Generator, size: int, kind: str,
                   scale: float) -> np.ndarray:
    """[S, S] bool: where a body's second colour goes."""
    yy, xx = np.mgrid[:size, :size]
    period = max(3.0, scale * rng.uniform(0.1, 0.2))
    if kind == 'checker':
        return ((xx // period).astype(int) + (yy // period).astype(int)) % 2 \
            == 0
    if kind == 'diagonal':
        return ((xx - yy) // period).astype(int) % 2 == 0
    if kind == 'speckle':
        return rng.random((size, size)) < 0.25
    return np.zeros((size, size), bool)  # 'frame': drawn as an outline


def render_yard_object(rng: np.random.Generator, cls: str,
                       size: float) -> Dict:
    """Render one yard object onto its own tight patch.

    Args:
        rng (np.random.Generator): Source of randomness.
        cls (str): One of :data:`YARD_CLASSES`.
        size (float): The body's longer side in pixels.

    Returns:
        dict: as :func:`~.objects.render_object`: ``img`` [h, w, 3] uint8 BGR,
        ``mask`` [h, w] bool, ``body`` (x1, y1, x2, y2) in patch pixels,
        ``part_area``, ``cls`` and ``flipped``.
    """
    aspect = rng.uniform(*YARD_BODY[cls][1])
    bw, bh = (size / aspect, size) if aspect >= 1 else (size, size * aspect)
    side = int(math.ceil(max(bw, bh) * 2.8)) + 8
    cv = _Canvas(side)
    x1, y1 = side / 2 - bw / 2, side / 2 - bh / 2
    x2, y2 = x1 + bw, y1 + bh
    shape = YARD_SHAPES[rng.integers(len(YARD_SHAPES))]
    fn = _shape_fn(shape, x1, y1, x2, y2)
    color = _jitter(rng, YARD_PALETTE[rng.integers(len(YARD_PALETTE))], 20)
    color2 = _jitter(rng, YARD_PALETTE[rng.integers(len(YARD_PALETTE))], 20)
    kind = YARD_PATTERNS[rng.integers(len(YARD_PATTERNS))]
    pattern = None
    if kind != 'plain':
        pattern = (_pattern_layer(rng, side, kind, max(bw, bh)), color2)
    sel = cv.draw(fn, color, pattern)
    if kind == 'frame':
        edge = sel & ~cv2.erode(
            sel.astype(np.uint8), np.ones((3, 3), np.uint8),
            iterations=max(1, int(min(bw, bh) * 0.08))).astype(bool)
        cv.img[edge] = color2
    body_mask = cv.mask.copy()
    cv.mask[:] = False
    YARD_PARTS[cls](cv, rng, (x1, y1, x2, y2))
    part_area = int(cv.mask.sum())
    cv.mask |= body_mask
    ys, xs = np.nonzero(cv.mask)
    py1, py2, px1, px2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    img = cv.img[py1:py2, px1:px2].astype(np.float64)
    mask = cv.mask[py1:py2, px1:px2]
    # a soft vertical light, brighter at the top
    h, w = mask.shape
    light = 1.0 + rng.uniform(0.05, 0.25) * (0.5 - np.arange(h) / max(1, h))
    img = np.clip(img * light[:, None, None], 0, 255).astype(np.uint8)
    body = [x1 - px1, y1 - py1, x2 - px1, y2 - py1]
    flipped = bool(rng.random() < 0.5) and bw > bh
    if flipped:
        img, mask = img[:, ::-1], mask[:, ::-1]
        body = [w - body[2], body[1], w - body[0], body[3]]
    return dict(
        img=np.ascontiguousarray(img),
        mask=np.ascontiguousarray(mask),
        body=tuple(body),
        part_area=part_area,
        cls=cls,
        flipped=flipped)
