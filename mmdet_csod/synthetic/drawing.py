"""Drawing primitives of the generated objects: colours, points, polygons,
an object's canvas (image + mask) and the body patterns.

Package-internal helpers of :mod:`mmdet_csod.synthetic`.
"""
from typing import Optional, Tuple

import cv2
import numpy as np

Color = Tuple[int, int, int]


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
