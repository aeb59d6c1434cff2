"""The class-distinctive parts of the generated objects.

A bottle's cap, a person's head with dark hair on top, a horse's head and mane
at the front, a cart's wheels, and so on: the part, not the body, tells an
object's class.
"""
import math

import cv2
import numpy as np

from .drawing import _jitter, _poly, _pt

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
