"""The generated objects: a body of a kind shared between classes plus the
class's part (:mod:`.parts`), rendered onto a tight patch."""
import math
from typing import Dict

import cv2
import numpy as np

from .drawing import _Canvas, _jitter, _pattern, _poly, _pt
from .parts import PARTS

CLASSES = ('cart', 'bottle', 'sign', 'house', 'kite', 'person', 'horse',
           'lamp', 'fish', 'tree')

#: Body kind of each class; the part is what tells classes of a kind apart.
BODY_KIND = dict(
    cart='wide',
    horse='wide',
    fish='wide',
    bottle='tall',
    person='tall',
    lamp='tall',
    tree='tall',
    sign='square',
    house='square',
    kite='square')

#: Body size range (pixels) per kind: tall = body height, wide = body width,
#: square = side. Sampled log-uniformly, so each range spans about 3.5x.
BODY_SIZE = dict(tall=(44, 150), wide=(50, 170), square=(30, 105))

# Body colours (BGR), shared by all classes.
BODY_PALETTE = np.array(
    [
        (160, 90, 40),  # steel blue
        (60, 130, 120),  # olive
        (140, 60, 110),  # purple
        (50, 100, 190),  # orange brown
        (130, 130, 130),  # grey
        (130, 140, 30),  # teal
        (50, 40, 130),  # maroon
        (130, 170, 200),  # tan
        (90, 60, 60),  # slate
        (110, 150, 80),  # sage
    ],
    dtype=np.float64)
BODY_PATTERNS = ('plain', 'hstripes', 'vstripes', 'dots', 'band')


# -------------------------------------------------------------------- bodies
def _draw_body(cv: _Canvas, rng: np.random.Generator, kind: str, cx: float,
               cy: float, bw: float, bh: float) -> Dict:
    """Draw a body of ``kind`` centred at (cx, cy), ``bw`` x ``bh`` pixels.

    Shape, colour and pattern are drawn from pools shared by all classes.
    Returns the body's geometry: box (x1, y1, x2, y2) and its shape name.
    """
    shapes = dict(
        tall=('rect', 'round', 'ellipse', 'taper'),
        wide=('rect', 'round', 'ellipse', 'capsule'),
        square=('rect', 'round', 'diamond', 'ellipse'))[kind]
    shape = shapes[rng.integers(len(shapes))]
    x1, y1, x2, y2 = cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2

    def fn(m, c):
        if shape == 'rect':
            cv2.rectangle(m, _pt(x1, y1), _pt(x2 - 1, y2 - 1), c, -1)
        elif shape == 'ellipse':
            cv2.ellipse(m, _pt(cx, cy), _pt(bw / 2 - 0.5, bh / 2 - 0.5), 0, 0,
                        360, c, -1)
        elif shape in ('round', 'capsule'):
            r = min(bw, bh) * (0.25 if shape == 'round' else 0.5) - 0.5
            cv2.rectangle(m, _pt(x1 + r, y1), _pt(x2 - 1 - r, y2 - 1), c, -1)
            cv2.rectangle(m, _pt(x1, y1 + r), _pt(x2 - 1, y2 - 1 - r), c, -1)
            for px in (x1 + r, x2 - 1 - r):
                for py in (y1 + r, y2 - 1 - r):
                    cv2.circle(m, _pt(px, py), int(round(r)), c, -1)
        elif shape == 'taper':
            t = bw * 0.18
            cv2.fillPoly(
                m,
                _poly([(x1 + t, y1), (x2 - 1 - t, y1), (x2 - 1, y2 - 1),
                       (x1, y2 - 1)]), c)
        elif shape == 'diamond':
            cv2.fillPoly(
                m, _poly([(cx, y1), (x2 - 1, cy), (cx, y2 - 1), (x1, cy)]), c)

    color = _jitter(rng, BODY_PALETTE[rng.integers(len(BODY_PALETTE))])
    pname = BODY_PATTERNS[rng.integers(len(BODY_PATTERNS))]
    psel = _pattern(rng, cv.size, pname, max(bw, bh))
    pattern = None
    if psel is not None:
        color2 = _jitter(rng, BODY_PALETTE[rng.integers(len(BODY_PALETTE))])
        pattern = (psel, color2)
    cv.draw(fn, color, pattern)
    return dict(box=(x1, y1, x2, y2), shape=shape)


# ------------------------------------------------------------------- objects
def render_object(rng: np.random.Generator, cls: str, size: float) -> Dict:
    """Render one object onto its own tight patch.

    Args:
        rng (np.random.Generator): Source of randomness.
        cls (str): One of :data:`CLASSES`.
        size (float): Body size in pixels (tall: height, wide: width,
            square: side).

    Returns:
        dict: ``img`` [h, w, 3] uint8 BGR, ``mask`` [h, w] bool (the drawn
        object: body and part; the patch is its tight box), ``body`` the body
        box (x1, y1, x2, y2) in patch pixels, ``part_area`` pixels of the
        part (drawn over the body or outside it), ``cls`` and ``flipped``.
    """
    kind = BODY_KIND[cls]
    if kind == 'tall':
        bh = size
        bw = size / rng.uniform(1.9, 2.5)
    elif kind == 'wide':
        bw = size
        bh = size / rng.uniform(1.8, 2.3)
    else:
        bw = size
        bh = size * rng.uniform(0.88, 1.12)
    side = int(math.ceil(max(bw, bh) * 2.6)) + 8
    cv = _Canvas(side)
    body = _draw_body(cv, rng, kind, side / 2, side / 2, bw, bh)
    body_mask = cv.mask.copy()
    cv.mask[:] = False
    PARTS[cls](cv, rng, body['box'])
    part_mask = cv.mask.copy()
    cv.mask |= body_mask
    # soft shading across the whole object
    ys, xs = np.nonzero(cv.mask)
    y1, y2, x1, x2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    img = cv.img[y1:y2, x1:x2]
    mask = cv.mask[y1:y2, x1:x2]
    a = rng.uniform(0, 2 * math.pi)
    h, w = mask.shape
    gy, gx = np.mgrid[:h, :w]
    t = ((gx - w / 2) * math.cos(a) + (gy - h / 2) * math.sin(a)) / max(h, w)
    shade = 1.0 + rng.uniform(0.1, 0.3) * t
    img = np.clip(img * shade[..., None], 0, 255).astype(np.uint8)
    bx1, by1, bx2, by2 = body['box']
    bbox = [bx1 - x1, by1 - y1, bx2 - x1, by2 - y1]
    flipped = kind == 'wide' and bool(rng.random() < 0.5)
    if flipped:
        img, mask = img[:, ::-1], mask[:, ::-1]
        bbox = [w - bbox[2], bbox[1], w - bbox[0], bbox[3]]
    part_area = int(part_mask.sum())
    return dict(
        img=np.ascontiguousarray(img),
        mask=np.ascontiguousarray(mask),
        body=tuple(bbox),
        part_area=part_area,
        cls=cls,
        flipped=flipped)
