"""The scenes' background: gradient, ground, texture, noise and clutter."""
import math

import cv2
import numpy as np

from .drawing import _pt


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
