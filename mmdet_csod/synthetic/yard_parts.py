"""The class-distinctive parts of the yard scenes' objects
(:mod:`.yard_objects`).

A second family of generated objects, drawn with other shapes, other classes
and other parts than :mod:`.parts`, for checking a method on scenes it was not
developed on. As there, the part alone tells the class: a truck's cab, a
table's legs, a barrel's lid, a door's knob, a balloon's string; a dog's head
with its ear, a bird's beak, a cup's handle, a flower's petals, a robot's
antenna. Each function draws on a drawn body whose box is ``b`` (x1, y1, x2,
y2, canvas pixels); parts of wide bodies face right (the patch is flipped
afterwards).
"""
import math

import cv2
import numpy as np

from .drawing import _jitter, _poly, _pt


def _part_truck(cv, rng, b):
    """A cab at the front, higher than the cargo box, with a window."""
    x1, y1, x2, y2 = b
    bh = y2 - y1
    cw, ch = bh * rng.uniform(0.7, 0.85), bh * rng.uniform(1.15, 1.3)
    cab = _jitter(rng, (40, 40, 200), 14)  # red cab
    cv.draw(
        lambda m, c: cv2.rectangle(m, _pt(x2 - 2, y2 - ch),
                                   _pt(x2 + cw, y2 - 1), c, -1), cab)
    cv.draw(
        lambda m, c: cv2.rectangle(m, _pt(x2 + cw * 0.3, y2 - ch * 0.9),
                                   _pt(x2 + cw * 0.85, y2 - ch * 0.55), c, -1),
        _jitter(rng, (235, 215, 170), 8))  # pale blue window
    r = max(2, int(round(bh * 0.18)))
    for px in (x1 + bh * 0.35, x2 + cw * 0.5):
        cv.draw(
            lambda m, c: cv2.circle(m, _pt(px, y2), r, c, -1), (25, 25, 25))


def _part_table(cv, rng, b):
    """Four thin legs under a flat top."""
    x1, y1, x2, y2 = b
    bw = x2 - x1
    length = bw * rng.uniform(0.45, 0.6)
    leg = _jitter(rng, (30, 60, 90), 10)  # dark wood
    t = max(1, bw * 0.035)
    for fx in (0.06, 0.28, 0.72, 0.94):
        px = x1 + bw * fx
        cv.line((px, y2 - 1), (px, y2 + length), leg, t)
    cv.line((x1 + bw * 0.06, y2 + length * 0.6),
            (x1 + bw * 0.94, y2 + length * 0.6), leg, max(1, t * 0.7))


def _part_barrel(cv, rng, b):
    """A metal lid on top and two hoops."""
    x1, y1, x2, y2 = b
    bw, bh, cx = x2 - x1, y2 - y1, (x1 + x2) / 2
    metal = _jitter(rng, (170, 170, 165), 10)
    cv.draw(
        lambda m, c: cv2.ellipse(m, _pt(cx, y1), _pt(bw * 0.55, bw * 0.16),
                                 0, 0, 360, c, -1), metal)
    cv.draw(
        lambda m, c: cv2.ellipse(m, _pt(cx, y1), _pt(bw * 0.35, bw * 0.08),
                                 0, 0, 360, c, -1), (60, 60, 60))
    for fy in (0.22, 0.78):
        yy = y1 + bh * fy
        cv.line((x1, yy), (x2 - 1, yy), metal, max(1, bh * 0.06))


def _part_door(cv, rng, b):
    """A gold knob and a small window pane near the top."""
    x1, y1, x2, y2 = b
    bw, bh = x2 - x1, y2 - y1
    side = x2 - bw * 0.2 if rng.random() < 0.5 else x1 + bw * 0.2
    cv.draw(
        lambda m, c: cv2.circle(m, _pt(side, y1 + bh * 0.55),
                                max(2, int(round(bw * 0.1))), c, -1),
        _jitter(rng, (40, 200, 230), 8))  # gold
    cv.draw(
        lambda m, c: cv2.rectangle(m, _pt(x1 + bw * 0.25, y1 + bh * 0.08),
                                   _pt(x2 - bw * 0.25, y1 + bh * 0.25), c, -1),
        _jitter(rng, (240, 230, 200), 8))
    # a frame around the door, slightly outside the body
    cv.draw(
        lambda m, c: cv2.rectangle(m, _pt(x1 - 2, y1 - 2), _pt(x2 + 1, y2),
                                   c, max(1, int(bw * 0.06))),
        _jitter(rng, (90, 90, 90), 10))


def _part_balloon(cv, rng, b):
    """A knot below and a long wavy string."""
    x1, y1, x2, y2 = b
    s, cx = x2 - x1, (x1 + x2) / 2
    knot = [(cx, y2 - 2), (cx - s * 0.09, y2 + s * 0.12),
            (cx + s * 0.09, y2 + s * 0.12)]
    string = _jitter(rng, (235, 235, 235), 8)
    cv.draw(lambda m, c: cv2.fillPoly(m, _poly(knot), c), string)
    n, length = 14, s * rng.uniform(0.9, 1.1)
    ts = np.linspace(0, 1, n)
    amp, phase = s * 0.07, rng.uniform(0, 2 * math.pi)
    pts = np.stack([cx + amp * np.sin(ts * 4 * math.pi + phase),
                    y2 + s * 0.12 + ts * length], 1)
    th = int(round(max(1, s * 0.03)))
    cv.draw(lambda m, c: cv2.polylines(m, _poly(pts), False, c, th), string)


def _part_dog(cv, rng, b):
    """A round head at the front with a floppy ear and a nose, a tail."""
    x1, y1, x2, y2 = b
    bh = y2 - y1
    fur = _jitter(rng, (60, 120, 170), 12)  # light brown
    r = bh * rng.uniform(0.38, 0.45)
    hx, hy = x2 + r * 0.3, y1 - r * 0.1
    cv.draw(lambda m, c: cv2.circle(m, _pt(hx, hy), int(round(r)), c, -1), fur)
    cv.draw(
        lambda m, c: cv2.ellipse(m, _pt(hx - r * 0.55, hy + r * 0.25),
                                 _pt(r * 0.3, r * 0.7), 15, 0, 360, c, -1),
        _jitter(rng, (25, 45, 70), 8))  # dark ear
    cv.draw(
        lambda m, c: cv2.circle(m, _pt(hx + r * 0.85, hy + r * 0.1),
                                max(1, int(r * 0.2)), c, -1), (15, 15, 15))
    cv.draw(
        lambda m, c: cv2.circle(m, _pt(hx + r * 0.25, hy - r * 0.25),
                                max(1, int(r * 0.12)), c, -1), (15, 15, 15))
    cv.line((x1 + 2, y1 + bh * 0.2), (x1 - bh * 0.45, y1 - bh * 0.35), fur,
            max(1, bh * 0.12))


def _part_bird(cv, rng, b):
    """An orange beak at the front, an eye and a dark wing."""
    x1, y1, x2, y2 = b
    s, cy = x2 - x1, (y1 + y2) / 2
    beak = [(x2 - 2, cy - s * 0.16), (x2 + s * 0.42, cy - s * 0.02),
            (x2 - 2, cy + s * 0.1)]
    cv.draw(lambda m, c: cv2.fillPoly(m, _poly(beak), c),
            _jitter(rng, (20, 140, 250), 8))
    cv.draw(
        lambda m, c: cv2.circle(m, _pt(x2 - s * 0.25, cy - s * 0.18),
                                max(1, int(s * 0.08)), c, -1), (10, 10, 10))
    wing = [(x1 + s * 0.15, cy), (x1 + s * 0.65, cy - s * 0.05),
            (x1 - s * 0.2, cy + s * 0.35)]
    cv.draw(lambda m, c: cv2.fillPoly(m, _poly(wing), c),
            _jitter(rng, (50, 40, 40), 8))


def _part_cup(cv, rng, b):
    """A ring handle on one side and a white rim."""
    x1, y1, x2, y2 = b
    s = x2 - x1
    handle = _jitter(rng, (230, 230, 230), 8)
    hx = x2 + s * 0.1 if rng.random() < 0.5 else x1 - s * 0.1
    cv.draw(
        lambda m, c: cv2.ellipse(m, _pt(hx, (y1 + y2) / 2),
                                 _pt(s * 0.24, s * 0.28), 0, 0, 360, c,
                                 max(1, int(s * 0.09))), handle)
    cv.draw(
        lambda m, c: cv2.rectangle(m, _pt(x1 - 1, y1 - s * 0.08),
                                   _pt(x2, y1 + s * 0.06), c, -1), handle)


def _part_flower(cv, rng, b):
    """Petals around a yellow centre on top of the stem."""
    x1, y1, x2, y2 = b
    bw, cx = x2 - x1, (x1 + x2) / 2
    r = bw * rng.uniform(0.55, 0.7)
    cy = y1 - r * 1.3
    petal = _jitter(rng, (180, 60, 230), 14)  # pink
    for k in range(5):
        a = k * 2 * math.pi / 5 + rng.uniform(0, 0.3)
        cv.draw(
            lambda m, c: cv2.circle(
                m, _pt(cx + math.cos(a) * r * 0.6, cy + math.sin(a) * r * 0.6),
                int(round(r * 0.45)), c, -1), petal)
    cv.draw(
        lambda m, c: cv2.circle(m, _pt(cx, cy), int(round(r * 0.35)), c, -1),
        _jitter(rng, (30, 220, 240), 8))
    cv.line((cx, cy), (cx, y1 + 2), _jitter(rng, (40, 140, 40), 8),
            max(1, bw * 0.2))


def _part_robot(cv, rng, b):
    """An antenna with a red ball and a cyan visor."""
    x1, y1, x2, y2 = b
    bw, cx = x2 - x1, (x1 + x2) / 2
    top = y1 - bw * rng.uniform(0.55, 0.7)
    cv.line((cx, y1 + 1), (cx, top), (60, 60, 60), max(1, bw * 0.07))
    cv.draw(
        lambda m, c: cv2.circle(m, _pt(cx, top), max(2, int(bw * 0.14)), c,
                                -1), _jitter(rng, (30, 30, 230), 8))
    bh = y2 - y1
    cv.draw(
        lambda m, c: cv2.rectangle(m, _pt(x1 + bw * 0.12, y1 + bh * 0.08),
                                   _pt(x2 - bw * 0.12, y1 + bh * 0.16), c, -1),
        _jitter(rng, (230, 230, 60), 8))


YARD_PARTS = dict(
    truck=_part_truck,
    table=_part_table,
    barrel=_part_barrel,
    door=_part_door,
    balloon=_part_balloon,
    dog=_part_dog,
    bird=_part_bird,
    cup=_part_cup,
    flower=_part_flower,
    robot=_part_robot)
