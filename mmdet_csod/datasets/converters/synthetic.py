"""A generated ("synthetic") detection data set for cross-supervised detection.

Every object is a *body* plus a small *part*. Bodies come in three kinds
(tall, wide, square) shared between classes, with shapes, colours and
patterns drawn from pools shared by all classes, so a body alone does not
tell its class. The class is given away by its part: a bottle's cap, a
person's head with dark hair on top, a horse's head and mane at the front,
a cart's wheels, and so on. A weakly supervised detector is therefore tempted
to box the part alone, which is what cross-supervised detection has to fix.

Scenes hold 2 to 6 objects on a textured gradient background with small
clutter shapes. Objects co-occur and touch: a person rides about half of the
horses (the rider's box overlaps the top of the horse's box) and a lamp often
stands next to a house.

Output layout (relied on by the configs and the dataset code)::

    DIR/annotations/train.json   COCO, every box of every class
    DIR/annotations/val.json
    DIR/train/000000.jpg ...     JPEG quality 95
    DIR/val/000000.jpg ...
    DIR/proposals/ss_train.npz   Selective Search, project proposal format
    DIR/proposals/ss_val.npz

The output depends only on the arguments (not on the number of workers):
image ``i`` of split ``s`` draws from ``np.random.default_rng([seed, s, i])``.
Boxes are ``[x, y, w, h]`` in the json and ``x1, y1, x2, y2`` (x2 = x + w,
exclusive) elsewhere, in pixels.
"""
import json
import math
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..proposals import proposal_key, save_proposals
from ._common import pool_context
from .selective_search import selective_search

GENERATOR_VERSION = '1.0'

CLASSES = ('cart', 'bottle', 'sign', 'house', 'kite', 'person', 'horse',
           'lamp', 'fish', 'tree')
SPLITS = ('train', 'val')

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

IMG_SIZE_RANGE = (224, 320)  # each side, inclusive
NUM_OBJECTS_RANGE = (2, 6)  # inclusive
RIDER_PROB = 0.5  # horses with a person on top
LAMP_BY_HOUSE_PROB = 0.4  # houses with a lamp standing next to them
MAX_OVERLAP = 0.2  # intersection / smaller box, between groups
PLACEMENT_SCALES = (1.0, 0.8, 0.64, 0.51, 0.41, 0.33)  # tried in turn
JPEG_QUALITY = 95
SS_MODE = 'fast'
SS_SEED = 0  # seed of OpenCV's region ranking (C rand)
DEFAULT_SS_MAX_SIDE = 192

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

Color = Tuple[int, int, int]


# --------------------------------------------------------------- utilities
def _jitter(rng: np.random.Generator, color, amount: float = 18) -> Color:
    c = np.asarray(color, np.float64) + rng.uniform(-amount, amount, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def _pt(x: float, y: float) -> Tuple[int, int]:
    return int(round(x)), int(round(y))


def _poly(points) -> np.ndarray:
    """[K, 2] float points -> [1, K, 2] int32 for ``cv2.fillPoly``."""
    return np.round(np.asarray(points, np.float64)).astype(np.int32)[None]


class _Canvas:
    """An object's local drawing surface: colours and the object's mask.

    ``img`` is [S, S, 3] uint8 BGR, ``mask`` [S, S] bool; everything drawn
    through :meth:`draw` is painted into ``img`` and marked in ``mask``.
    """

    def __init__(self, size: int):
        self.size = size
        self.img = np.zeros((size, size, 3), np.uint8)
        self.mask = np.zeros((size, size), bool)
        self._tmp = np.zeros((size, size), np.uint8)

    def region(self, fn) -> np.ndarray:
        """[S, S] bool of what ``fn(layer, 255)`` draws on an empty layer."""
        self._tmp[:] = 0
        fn(self._tmp, 255)
        return self._tmp > 0

    def draw(self, fn, color: Color, pattern=None) -> np.ndarray:
        """Paint the region ``fn`` draws with ``color``; ``pattern`` is an
        optional ``(sel [S, S] bool, color2)`` painted over it."""
        sel = self.region(fn)
        self.img[sel] = color
        if pattern is not None:
            psel, color2 = pattern
            self.img[sel & psel] = color2
        self.mask |= sel
        return sel

    def line(self, p1, p2, color: Color, thickness: int) -> None:
        """A line that also counts as object (marked in the mask)."""
        self.draw(
            lambda m, c: cv2.line(m, _pt(*p1), _pt(*p2), c,
                                  max(1, int(round(thickness)))), color)


def _pattern(rng: np.random.Generator, size: int, kind: str,
             scale: float) -> Optional[np.ndarray]:
    """[S, S] bool pattern layer of a body (None for 'plain')."""
    if kind == 'plain':
        return None
    yy, xx = np.mgrid[:size, :size]
    period = max(4.0, scale * rng.uniform(0.12, 0.22))
    if kind == 'hstripes':
        return (yy // period).astype(np.int64) % 2 == 0
    if kind == 'vstripes':
        return (xx // period).astype(np.int64) % 2 == 0
    if kind == 'band':
        c = size / 2 + rng.uniform(-0.15, 0.15) * scale
        return np.abs(yy - c) < scale * rng.uniform(0.06, 0.12)
    layer = np.zeros((size, size), np.uint8)  # dots
    r = max(1, int(period * 0.3))
    step = int(period * 1.4)
    off = rng.integers(0, step, 2)
    for y in range(int(off[0]), size, step):
        for x in range(int(off[1]) + (y // step % 2) * step // 2, size, step):
            cv2.circle(layer, (x, y), r, 255, -1)
    return layer > 0


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


# --------------------------------------------------------------------- parts
# Each part function draws the class's distinctive part on a drawn body.
# ``b`` is the body box (x1, y1, x2, y2) in canvas pixels; parts of wide
# bodies are drawn facing right (the patch is flipped afterwards).


def _part_cart(cv, rng, b):
    x1, y1, x2, y2 = b
    bh = y2 - y1
    r = bh * rng.uniform(0.27, 0.33)
    tire = _jitter(rng, (35, 35, 35), 8)
    hub = _jitter(rng, (225, 225, 225), 10)
    for fx in (0.24, 0.76):
        cx, cy = x1 + (x2 - x1) * fx, y2 - bh * 0.08
        cv.draw(lambda m, c: cv2.circle(m, _pt(cx, cy), int(round(r)), c, -1),
                tire)
        cv.draw(
            lambda m, c: cv2.circle(m, _pt(cx, cy), int(round(r * 0.62)), c,
                                    max(1, int(r * 0.18))), hub)
        for a in np.arange(4) * math.pi / 4 + rng.uniform(0, math.pi / 4):
            dx, dy = math.cos(a) * r * 0.62, math.sin(a) * r * 0.62
            cv.line((cx - dx, cy - dy), (cx + dx, cy + dy), hub,
                    max(1, r * 0.12))


def _part_bottle(cv, rng, b):
    x1, y1, x2, y2 = b
    bw, cx = x2 - x1, (x1 + x2) / 2
    nw, nh = bw * 0.5, bw * rng.uniform(0.3, 0.4)
    cw, ch = bw * 0.66, bw * rng.uniform(0.28, 0.34)
    neck = _jitter(rng, (200, 220, 190), 12)  # pale glass
    cap = _jitter(rng, (30, 30, 210), 12)  # red cap
    ny1 = y1 - nh
    cv.draw(
        lambda m, c: cv2.rectangle(m, _pt(cx - nw / 2, ny1),
                                   _pt(cx + nw / 2, y1 + 2), c, -1), neck)
    cy1 = ny1 - ch
    ridges = (np.mgrid[:cv.size, :cv.size][1] % max(2, int(cw / 5))) == 0
    cv.draw(
        lambda m, c: cv2.rectangle(m, _pt(cx - cw / 2, cy1),
                                   _pt(cx + cw / 2, ny1), c, -1), cap,
        (ridges, (235, 235, 235)))


def _part_sign(cv, rng, b):
    x1, y1, x2, y2 = b
    s, cx = x2 - x1, (x1 + x2) / 2
    pw, ph = s * rng.uniform(0.17, 0.21), s * rng.uniform(0.55, 0.7)
    yy, xx = np.mgrid[:cv.size, :cv.size]
    stripes = ((xx + yy) // max(2, int(s * 0.09))) % 2 == 0
    cv.draw(
        lambda m, c: cv2.rectangle(m, _pt(cx - pw / 2, y2 - 2),
                                   _pt(cx + pw / 2, y2 + ph), c, -1),
        _jitter(rng, (20, 210, 235), 10), (stripes, (20, 20, 20)))
    fw, fh = s * 0.5, max(2, s * 0.09)
    cv.draw(
        lambda m, c: cv2.rectangle(m, _pt(cx - fw / 2, y2 + ph),
                                   _pt(cx + fw / 2, y2 + ph + fh), c, -1),
        _jitter(rng, (40, 40, 40), 8))


def _part_house(cv, rng, b):
    x1, y1, x2, y2 = b
    s, cx = x2 - x1, (x1 + x2) / 2
    over, rh = s * rng.uniform(0.06, 0.1), s * rng.uniform(0.38, 0.48)
    yy = np.mgrid[:cv.size, :cv.size][0]
    tiles = (yy % max(3, int(s * 0.08))) == 0
    roof = [(x1 - over, y1 + 2), (x2 + over, y1 + 2), (cx, y1 - rh)]
    # chimney first: the roof covers its foot
    chx = cx + s * 0.22
    cv.draw(
        lambda m, c: cv2.rectangle(m, _pt(chx, y1 - rh * 0.8),
                                   _pt(chx + s * 0.1, y1 - rh * 0.2), c, -1),
        _jitter(rng, (60, 60, 90), 10))
    cv.draw(lambda m, c: cv2.fillPoly(m, _poly(roof), c),
            _jitter(rng, (40, 50, 170), 12), (tiles, (30, 30, 90)))


def _part_kite(cv, rng, b):
    x1, y1, x2, y2 = b
    s, cx = x2 - x1, (x1 + x2) / 2
    n = 16
    length = s * rng.uniform(0.75, 0.9)
    amp, phase = s * 0.09, rng.uniform(0, 2 * math.pi)
    ts = np.linspace(0, 1, n)
    pts = np.stack(
        [cx + amp * np.sin(ts * 3 * math.pi + phase), y2 - 2 + ts * length], 1)
    tail = _jitter(rng, (30, 30, 30), 8)
    th = max(1, s * 0.045)
    cv.draw(
        lambda m, c: cv2.polylines(m, _poly(pts), False, c, int(round(th))),
        tail)
    bow = _jitter(rng, (200, 40, 230), 12)  # magenta bows
    bs = s * rng.uniform(0.15, 0.18)
    for t in (0.35, 0.65, 0.95):
        px = cx + amp * math.sin(t * 3 * math.pi + phase)
        py = y2 - 2 + t * length
        tri = [(px, py), (px - bs, py - bs * 0.6), (px - bs, py + bs * 0.6),
               (px, py), (px + bs, py - bs * 0.6), (px + bs, py + bs * 0.6)]
        cv.draw(
            lambda m, c: cv2.fillPoly(
                m, np.concatenate([_poly(tri[:3]),
                                   _poly(tri[3:])]), c), bow)


def _part_person(cv, rng, b):
    x1, y1, x2, y2 = b
    bw, cx = x2 - x1, (x1 + x2) / 2
    r = bw * rng.uniform(0.42, 0.5)
    cy = y1 - r * 0.8
    skin = _jitter(rng, (150, 185, 225), 12)
    cv.draw(lambda m, c: cv2.circle(m, _pt(cx, cy), int(round(r)), c, -1),
            skin)
    # dark hair cap on top of the head, and two eyes
    cv.draw(
        lambda m, c: cv2.ellipse(m, _pt(cx, cy - r * 0.1),
                                 _pt(r * 1.05, r * 0.95), 0, 180, 360, c, -1),
        _jitter(rng, (25, 30, 45), 8))
    er = max(1, int(round(r * 0.13)))
    for dx in (-0.38, 0.38):
        cv.draw(
            lambda m, c: cv2.circle(m, _pt(cx + dx * r, cy + r * 0.25), er, c,
                                    -1), (20, 20, 20))


def _part_horse(cv, rng, b):
    x1, y1, x2, y2 = b
    bh = y2 - y1
    coat = _jitter(rng, (30, 70, 140), 12)  # chestnut head and neck
    mane = _jitter(rng, (15, 15, 25), 6)
    fx = x2 - bh * 0.35  # neck foot, front of body
    top = y1 - bh * rng.uniform(0.6, 0.75)
    neck = [(fx - bh * 0.28, y1 + bh * 0.3), (fx + bh * 0.22, y1 + bh * 0.3),
            (fx + bh * 0.42, top + bh * 0.1), (fx + bh * 0.05, top)]
    cv.draw(lambda m, c: cv2.fillPoly(m, _poly(neck), c), coat)
    hx, hy = fx + bh * 0.45, top + bh * 0.12
    cv.draw(
        lambda m, c: cv2.ellipse(m, _pt(hx, hy), _pt(bh * 0.4, bh * 0.17), 25,
                                 0, 360, c, -1), coat)
    # ears, mane teeth along the back of the neck, white blaze, eye
    cv.draw(
        lambda m, c: cv2.fillPoly(
            m,
            _poly([(hx - bh * 0.3, hy - bh * 0.1),
                   (hx - bh * 0.2, hy - bh * 0.36),
                   (hx - bh * 0.1, hy - bh * 0.14)]), c), coat)
    n = 5
    for i in range(n):
        t = (i + 0.5) / n
        px = neck[3][0] + (neck[0][0] - neck[3][0]) * t
        py = neck[3][1] + (neck[0][1] - neck[3][1]) * t
        cv.draw(
            lambda m, c: cv2.fillPoly(
                m,
                _poly([(px + bh * 0.06, py - bh * 0.08), (px - bh * 0.16, py),
                       (px + bh * 0.06, py + bh * 0.08)]), c), mane)
    cv.line((hx, hy - bh * 0.05), (hx + bh * 0.3, hy + bh * 0.1),
            _jitter(rng, (230, 230, 230), 8), max(1, bh * 0.06))
    cv.draw(
        lambda m, c: cv2.circle(m, _pt(hx - bh * 0.08, hy - bh * 0.03),
                                max(1, int(bh * 0.04)), c, -1), (10, 10, 10))


def _part_lamp(cv, rng, b):
    x1, y1, x2, y2 = b
    bw, cx = x2 - x1, (x1 + x2) / 2
    sh = bw * rng.uniform(0.45, 0.55)
    top_w, bot_w = bw * 0.6, bw * rng.uniform(1.2, 1.4)
    sy2 = y1 - bw * 0.25
    r = bw * 0.2
    bulb = _jitter(rng, (90, 235, 250), 6)  # glowing yellow bulb
    cv.draw(
        lambda m, c: cv2.circle(m, _pt(cx, sy2 + r * 0.2), int(round(r)), c, -1
                                ), bulb)
    cv.draw(
        lambda m, c: cv2.rectangle(m, _pt(cx - bw * 0.1, sy2),
                                   _pt(cx + bw * 0.1, y1 + 2), c, -1),
        _jitter(rng, (40, 40, 40), 8))
    shade = [(cx - bot_w / 2, sy2), (cx + bot_w / 2, sy2),
             (cx + top_w / 2, sy2 - sh), (cx - top_w / 2, sy2 - sh)]
    yy = np.mgrid[:cv.size, :cv.size][0]
    rim = np.abs(yy - (sy2 - 2)) < max(1.5, sh * 0.12)
    cv.draw(lambda m, c: cv2.fillPoly(m, _poly(shade), c),
            _jitter(rng, (40, 110, 20), 10), (rim, bulb))


def _part_fish(cv, rng, b):
    x1, y1, x2, y2 = b
    bh, cy = y2 - y1, (y1 + y2) / 2
    tl, th = bh * rng.uniform(0.55, 0.65), bh * rng.uniform(0.5, 0.58)
    fin = _jitter(rng, (20, 130, 245), 10)  # orange fins
    xx = np.mgrid[:cv.size, :cv.size][1]
    stripes = (xx // max(2, int(bh * 0.1))) % 2 == 0
    tail = [(x1 + bh * 0.12, cy), (x1 - tl, cy - th), (x1 - tl * 0.7, cy),
            (x1 - tl, cy + th)]
    cv.draw(lambda m, c: cv2.fillPoly(m, _poly(tail), c), fin,
            (stripes, (245, 245, 245)))
    dx = x1 + (x2 - x1) * 0.4
    dorsal = [(dx - bh * 0.25, y1 + bh * 0.12),
              (dx + bh * 0.25, y1 + bh * 0.12),
              (dx - bh * 0.2, y1 - bh * 0.28)]
    cv.draw(lambda m, c: cv2.fillPoly(m, _poly(dorsal), c), fin,
            (stripes, (245, 245, 245)))


def _part_tree(cv, rng, b):
    x1, y1, x2, y2 = b
    bw, cx = x2 - x1, (x1 + x2) / 2
    r = bw * rng.uniform(0.42, 0.5)
    leaf = _jitter(rng, (40, 150, 30), 12)  # green crown
    dark = _jitter(rng, (20, 80, 10), 8)
    yy, xx = np.mgrid[:cv.size, :cv.size]
    k = max(3, int(r * 0.45))
    spots = ((xx // k + yy // k) % 3 == 0) & ((xx % k) < k // 2) & \
        ((yy % k) < k // 2)
    for ox, oy in ((-0.7, 0.0), (0.7, 0.0), (0.0, -0.65)):
        pcx, pcy = cx + ox * r, y1 - r * 0.55 + oy * r
        cv.draw(
            lambda m, c: cv2.circle(m, _pt(pcx, pcy), int(round(r)), c, -1),
            leaf, (spots, dark))


PARTS = dict(
    cart=_part_cart,
    bottle=_part_bottle,
    sign=_part_sign,
    house=_part_house,
    kite=_part_kite,
    person=_part_person,
    horse=_part_horse,
    lamp=_part_lamp,
    fish=_part_fish,
    tree=_part_tree)


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


def _sample_size(rng: np.random.Generator, cls: str) -> float:
    lo, hi = BODY_SIZE[BODY_KIND[cls]]
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _make_group(rng: np.random.Generator, cls: str, scale: float,
                with_companion: bool) -> List[Tuple[Dict, int, int]]:
    """An object and, optionally, the object it co-occurs with.

    Returns ``[(obj, dx, dy), ...]`` in drawing order, offsets relative to the
    group's top-left corner (all >= 0).
    """
    main = render_object(rng, cls, _sample_size(rng, cls) * scale)
    members = [(main, 0, 0)]
    if with_companion and cls == 'horse':
        # a rider: the person sits in the top of the horse's body
        hb = main['body']
        hbh, hbw = hb[3] - hb[1], hb[2] - hb[0]
        rider = render_object(rng, 'person', hbh * rng.uniform(0.95, 1.2))
        rb = rider['body']
        back = -1 if not main['flipped'] else 1  # towards the horse's back
        cx = (hb[0] + hb[2]) / 2 + back * hbw * rng.uniform(0.05, 0.15)
        foot = hb[1] + hbh * rng.uniform(0.35, 0.5)
        dx = int(round(cx - (rb[0] + rb[2]) / 2))
        dy = int(round(foot - rb[3]))
        members.append((rider, dx, dy))
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


# ---------------------------------------------------------------- background
def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """[h, w, 3] uint8: gradient, optional ground, low-frequency texture,
    noise and small clutter shapes (which are not objects)."""
    c1 = rng.uniform(60, 220, 3)
    c2 = rng.uniform(60, 220, 3)
    a = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    t = (xx * math.cos(a) + yy * math.sin(a))
    t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    img = c1 * (1 - t[..., None]) + c2 * t[..., None]
    if rng.random() < 0.5:  # a ground region below a wavy horizon
        hy = h * rng.uniform(0.45, 0.75) + h * 0.04 * np.sin(
            xx[0] / w * rng.uniform(2, 8) + rng.uniform(0, 6))
        ground = yy > hy[None, :]
        img[ground] = img[ground] * 0.5 + rng.uniform(40, 180, 3) * 0.5
    coarse = rng.normal(0, 1, (h // 24 + 2, w // 24 + 2, 3)).astype(np.float32)
    img += cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) * \
        rng.uniform(6, 16)
    fine = rng.normal(0, 1, (h // 4 + 2, w // 4 + 2, 1)).astype(np.float32)
    fine = cv2.resize(fine, (w, h), interpolation=cv2.INTER_LINEAR)
    img += fine[..., None] * rng.uniform(3, 8)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(6, 26))):
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        k = int(rng.integers(4))
        if k == 0:
            cv2.circle(img, (x, y), int(rng.integers(2, 8)), color, -1)
        elif k == 1:
            x2 = x + int(rng.integers(3, 14))
            y2 = y + int(rng.integers(3, 14))
            cv2.rectangle(img, (x, y), (x2, y2), color, -1)
        elif k == 2:
            ln, ang = rng.uniform(6, 30), rng.uniform(0, math.pi)
            cv2.line(img, (x, y),
                     _pt(x + ln * math.cos(ang), y + ln * math.sin(ang)),
                     color, int(rng.integers(1, 3)))
        else:
            p1 = (x + rng.integers(-10, 11), y + rng.integers(4, 12))
            p2 = (x + rng.integers(4, 12), y + rng.integers(-6, 7))
            pts = np.array([[x, y], p1, p2], np.int32)
            cv2.fillPoly(img, pts[None], color)
    return img


# --------------------------------------------------------------------- scene
def _block_classes(seed: int, split_index: int,
                   image_index: int) -> Tuple[str, str]:
    """Two classes every image starts with: each block of 5 consecutive
    images covers all 10 classes (a random permutation per block), so any
    split of 5 images or more holds every class."""
    block, pos = divmod(image_index, 5)
    perm = np.random.default_rng([seed, split_index, block,
                                  0xB10C]).permutation(len(CLASSES))
    return CLASSES[perm[2 * pos]], CLASSES[perm[2 * pos + 1]]


def render_scene(
        seed: int, split_index: int,
        image_index: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render image ``image_index`` of split ``split_index``.

    The image draws from ``np.random.default_rng([seed, split_index,
    image_index])`` (and a per-block stream, see :func:`_block_classes`), so
    it does not depend on which process renders it.

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
    first = list(_block_classes(seed, split_index, image_index))
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
        elif room and cls == 'house':
            companion = bool(rng.random() < LAMP_BY_HOUSE_PROB)
        # the first two objects are always placed: after the last scale they
        # get one more try that ignores the overlap limit
        must = qi < 2
        tries = PLACEMENT_SCALES + (PLACEMENT_SCALES[-1:] if must else ())
        placed = None
        for attempt, scale in enumerate(tries):
            group = _make_group(rng, cls, scale, companion)
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
                fits = free or all(
                    (_overlap(b, arr) <= MAX_OVERLAP).all() for b in mb)
                if fits:
                    placed = (group, gx, gy)
                    break
            if placed:
                break
        if placed is None:
            continue
        group, gx, gy = placed
        for o, dx, dy in group:
            x1, y1 = gx + dx, gy + dy
            oh, ow = o['mask'].shape
            region = img[y1:y1 + oh, x1:x1 + ow]
            region[o['mask']] = o['img'][o['mask']]
            boxes.append([x1, y1, x1 + ow, y1 + oh])
            labels.append(CLASSES.index(o['cls']))
    bboxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    bboxes[:, 0::2] = bboxes[:, 0::2].clip(0, w)
    bboxes[:, 1::2] = bboxes[:, 1::2].clip(0, h)
    return img, bboxes, np.asarray(labels, np.int64)


# ------------------------------------------------------------------- writing
def _encode(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode('.jpg', img,
                           [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError('JPEG encoding failed')
    return buf.tobytes()


def _image_job(job: Tuple[str, int, int, int, Optional[int]]) -> Dict:
    """Render, write and run Selective Search on one image (a worker task).

    Selective Search runs on the decoded JPEG, i.e. on what readers of the
    data set see, with OpenCV's pseudo-random ranking seeded by ``SS_SEED``
    (the default of ``tools/dataset_converters/selective_search.py``, which
    therefore gives the same boxes for the same ``--max-side``).
    """
    out_dir, split_index, image_index, seed, ss_max_side = job
    split = SPLITS[split_index]
    img, bboxes, labels = render_scene(seed, split_index, image_index)
    data = _encode(img)
    file_name = f'{image_index:06d}.jpg'
    path = osp.join(out_dir, split, file_name)
    with open(path, 'wb') as f:
        f.write(data)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    proposals = selective_search(
        decoded, mode=SS_MODE, max_side=ss_max_side, seed=SS_SEED)
    return dict(
        index=image_index,
        file_name=file_name,
        path=path,
        height=img.shape[0],
        width=img.shape[1],
        bboxes=bboxes,
        labels=labels,
        proposals=proposals)


def _init_worker() -> None:
    cv2.setNumThreads(1)


class _Progress:
    """mmengine's ProgressBar when available, else a periodic print."""

    def __init__(self, total: int, title: str, enabled: bool):
        self.total, self.done, self.title = total, 0, title
        self.enabled, self.bar, self.t0 = enabled, None, time.time()
        self.next_print = 0
        if enabled:
            print(f'{title}: {total} images', flush=True)
            try:
                from mmengine.utils import ProgressBar
                self.bar = ProgressBar(total)
            except ImportError:
                pass

    def update(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update()
        elif self.done >= self.next_print or self.done == self.total:
            print(
                f'  {self.done}/{self.total} '
                f'({time.time() - self.t0:.0f}s)',
                flush=True)
            self.next_print = self.done + max(1, self.total // 10)

    def close(self) -> None:
        if self.enabled and self.bar is not None:
            sys.stdout.write('\n')
            sys.stdout.flush()


def _coco_dict(results: Sequence[Dict], info: Dict) -> Dict:
    images, annotations = [], []
    for r in results:
        image_id = r['index'] + 1
        images.append(
            dict(
                id=image_id,
                file_name=r['file_name'],
                height=int(r['height']),
                width=int(r['width'])))
        for box, label in zip(r['bboxes'], r['labels']):
            x1, y1, x2, y2 = (int(v) for v in box)
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=int(label) + 1,
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    area=(x2 - x1) * (y2 - y1),
                    iscrowd=0))
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)]
    return dict(
        info=info,
        images=images,
        annotations=annotations,
        categories=categories)


def generate_split(out_dir: str,
                   split: str,
                   num_images: int,
                   seed: int = 0,
                   workers: Optional[int] = None,
                   ss_max_side: Optional[int] = DEFAULT_SS_MAX_SIDE,
                   args: Optional[Dict] = None,
                   progress: bool = True) -> Dict:
    """Make one split: images, ``annotations/<split>.json`` and
    ``proposals/ss_<split>.npz`` under ``out_dir``.

    Args:
        out_dir (str): Data set root.
        split (str): 'train' or 'val' (picks the random stream).
        num_images (int): Images to make (>= 1).
        seed (int): Base seed (>= 0).
        workers (int, optional): Processes; ``None`` = ``os.cpu_count()``,
            1 = in this process. The output does not depend on it.
        ss_max_side (int, optional): Longer side Selective Search runs at;
            None = full size.
        args (dict, optional): Generation arguments recorded in the json's
            ``info`` (keep it free of paths and worker counts so that runs
            with equal arguments give byte-identical files).
        progress (bool): Print progress.

    Returns:
        dict: The COCO dict written to the json.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    if seed < 0:
        raise ValueError(f'seed must be >= 0, got {seed}')
    split_index = SPLITS.index(split)
    os.makedirs(osp.join(out_dir, split), exist_ok=True)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    jobs = [(out_dir, split_index, i, seed, ss_max_side)
            for i in range(num_images)]
    if workers is None:
        workers = os.cpu_count() or 1
    workers = max(1, min(int(workers), num_images))
    bar = _Progress(num_images, f'synthetic {split}', progress)
    results: List[Dict] = []
    if workers == 1:
        for job in jobs:
            results.append(_image_job(job))
            bar.update()
    else:
        ctx = pool_context(__name__)
        chunk = max(1, min(16, num_images // (workers * 8)))
        with ctx.Pool(workers, initializer=_init_worker) as pool:
            for r in pool.imap(_image_job, jobs, chunksize=chunk):
                results.append(r)
                bar.update()
    bar.close()
    info = dict(
        description='mmdet-csod synthetic cross-supervised '
        'detection data set',
        generator='mmdet_csod.datasets.converters.synthetic',
        version=GENERATOR_VERSION,
        seed=int(seed),
        split=split,
        num_images=int(num_images),
        ss_mode=SS_MODE,
        ss_max_side=ss_max_side,
        ss_seed=SS_SEED,
        jpeg_quality=JPEG_QUALITY,
        args=dict(args or {}))
    coco = _coco_dict(results, info)
    ann_path = osp.join(out_dir, 'annotations', f'{split}.json')
    tmp = ann_path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(coco, f, separators=(',', ':'))
    os.replace(tmp, ann_path)
    save_proposals(
        osp.join(out_dir, 'proposals', f'ss_{split}.npz'),
        {proposal_key(r['path']): (r['proposals'], None)
         for r in results})
    return coco


def generate_dataset(out_dir: str,
                     num_train: int = 2000,
                     num_val: int = 500,
                     seed: int = 0,
                     workers: Optional[int] = None,
                     ss_max_side: Optional[int] = DEFAULT_SS_MAX_SIDE,
                     progress: bool = True) -> Dict[str, Dict]:
    """Make the whole data set (train and val) under ``out_dir``.

    Returns:
        dict: split name -> its COCO dict.
    """
    args = dict(
        num_train=int(num_train),
        num_val=int(num_val),
        seed=int(seed),
        ss_max_side=ss_max_side)
    return {
        split:
        generate_split(
            out_dir,
            split,
            n,
            seed=seed,
            workers=workers,
            ss_max_side=ss_max_side,
            args=args,
            progress=progress)
        for split, n in (('train', num_train), ('val', num_val))
    }


# ------------------------------------------------------------------- metrics
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
