"""Single-object crops of the generated data set, for backbone pretraining.

Each crop shows one object of a random class (uniform over
:data:`~mmdet_csod.synthetic.CLASSES`), drawn by the
scene generator's :func:`render_object` at a random scale and pasted at a
random position on the scenes' background (gradient, ground, texture,
noise and clutter shapes). Half of the crops also hold part of a second
object cut by the crop's border as a distractor; the label is always the
main object's class. Image classification on these crops is this
project's analogue of the paper's ImageNet pretraining.
"""
import math
from typing import Optional, Tuple

import cv2
import numpy as np

from .families import get_family

#: Longer side of the main object as a fraction of the crop side.
OBJECT_FRACTION = (0.35, 0.9)
DISTRACTOR_PROB = 0.5
#: Side of the background the crop's window is cut from (scene-like).
BACKGROUND_SIZE = 224
#: Fraction of the distractor's width/height that stays inside the crop.
DISTRACTOR_VISIBLE = (0.2, 0.5)


def _render_scaled(rng: np.random.Generator, cls: str, longest: float,
                   render_object) -> Tuple[np.ndarray, np.ndarray]:
    """Render ``cls`` with ``render_object`` and resize its patch so its
    longer side is about ``longest`` pixels. Returns (img [h, w, 3] uint8,
    mask [h, w] bool)."""
    # render near the final size (cheap), then fix the scale exactly
    obj = render_object(rng, cls, max(12.0, longest * 0.75))
    img, mask = obj['img'], obj['mask']
    h, w = mask.shape
    scale = longest / max(h, w)
    nw = max(2, int(round(w * scale)))
    nh = max(2, int(round(h * scale)))
    if (nh, nw) != (h, w):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        img = cv2.resize(img, (nw, nh), interpolation=interp)
        mask = cv2.resize(
            mask.astype(np.uint8), (nw, nh),
            interpolation=cv2.INTER_NEAREST) > 0
    return img, mask


def _paste(canvas: np.ndarray, img: np.ndarray, mask: np.ndarray, x: int,
           y: int) -> None:
    """Paste the masked pixels of ``img`` with its top-left at (x, y),
    clipped to the canvas."""
    ch, cw = canvas.shape[:2]
    h, w = mask.shape
    x1, y1 = max(x, 0), max(y, 0)
    x2, y2 = min(x + w, cw), min(y + h, ch)
    if x2 <= x1 or y2 <= y1:
        return
    sub = mask[y1 - y:y2 - y, x1 - x:x2 - x]
    canvas[y1:y2, x1:x2][sub] = img[y1 - y:y2 - y, x1 - x:x2 - x][sub]


def make_crop(rng: np.random.Generator,
              size: int = 96,
              label: Optional[int] = None,
              family: str = 'default') -> Tuple[np.ndarray, int]:
    """One crop of a scene family's objects on its background: (img [size,
    size, 3] uint8 BGR, label in [0, 10), an index into the family's
    classes)."""
    fam = get_family(family)
    classes = fam.classes
    if label is None:
        label = int(rng.integers(len(classes)))
    # a window of a scene-sized background, so clutter is as dense as in
    # the scenes
    bg = max(size, BACKGROUND_SIZE)
    full = fam.background(rng, bg, bg)
    bx, by = (int(v) for v in rng.integers(0, bg - size + 1, 2))
    canvas = np.ascontiguousarray(full[by:by + size, bx:bx + size])
    if rng.random() < DISTRACTOR_PROB:
        cls2 = classes[int(rng.integers(len(classes)))]
        longest = size * rng.uniform(*OBJECT_FRACTION)
        img2, mask2 = _render_scaled(rng, cls2, longest, fam.render_object)
        h, w = mask2.shape
        vis = rng.uniform(*DISTRACTOR_VISIBLE)
        side = int(rng.integers(4))  # 0 left, 1 right, 2 top, 3 bottom
        if side < 2:
            x = -int(w * (1 - vis)) if side == 0 else size - int(w * vis)
            y = int(rng.integers(-h // 2, max(size - h // 2, -h // 2 + 1)))
        else:
            y = -int(h * (1 - vis)) if side == 2 else size - int(h * vis)
            x = int(rng.integers(-w // 2, max(size - w // 2, -w // 2 + 1)))
        _paste(canvas, img2, mask2, x, y)
    cls = classes[label]
    lo, hi = OBJECT_FRACTION
    longest = size * math.exp(rng.uniform(math.log(lo), math.log(hi)))
    img, mask = _render_scaled(rng, cls, min(longest, size - 2),
                               fam.render_object)
    h, w = mask.shape
    x = int(rng.integers(0, size - w + 1))
    y = int(rng.integers(0, size - h + 1))
    _paste(canvas, img, mask, x, y)
    return canvas, label


def make_crop_batch(rng: np.random.Generator,
                    batch_size: int,
                    size: int = 96,
                    family: str = 'default') -> Tuple[np.ndarray, np.ndarray]:
    """A batch of single-object crops.

    Args:
        rng (np.random.Generator): Source of randomness; equal generator
            states give equal batches.
        batch_size (int): Number of crops.
        size (int): Side of each (square) crop in pixels.
        family (str): Scene family (:data:`~.families.FAMILIES`).

    Returns:
        tuple: ``imgs`` [B, size, size, 3] uint8 BGR and ``labels`` [B]
        int64 indices into the family's classes (the main object's class,
        uniform over all classes).
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    if size < 16:
        raise ValueError(f'size must be >= 16, got {size}')
    num_classes = len(get_family(family).classes)
    imgs = np.empty((batch_size, size, size, 3), np.uint8)
    labels = rng.integers(0, num_classes, batch_size).astype(np.int64)
    for i in range(batch_size):
        imgs[i], _ = make_crop(rng, size, int(labels[i]), family)
    return imgs, labels
