"""Selective Search proposals with OpenCV contrib (``cv2.ximgproc``).

The whole-dataset runner (processes, shards, resuming) is
:mod:`mmdet_csod.datasets.converters.ss_runner`.
"""
import ctypes
import os
from typing import Optional

import numpy as np

SS_MODES = ('fast', 'quality', 'single')

_LIBC = None


def seed_c_rand(seed: int) -> bool:
    """Seed the C library's ``rand()``, which OpenCV's Selective Search uses.

    OpenCV ranks the regions of each grouping by ``rand() / RAND_MAX *
    level`` (the pseudo-random ranking of Uijlings et al.), so without a seed
    the box order differs from call to call and process to process. Returns
    whether seeding worked (POSIX: the process's libc; a no-op elsewhere).
    """
    global _LIBC
    if os.name != 'posix':
        return False
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL(None)
        _LIBC.srand(ctypes.c_uint(seed))
    except (OSError, AttributeError):
        return False
    return True


def _ximgproc():
    import cv2
    if not hasattr(cv2, 'ximgproc'):
        raise ImportError(
            'Selective Search needs OpenCV with its contrib modules '
            '(opencv-contrib-python-headless); the installed cv2 '
            f'{cv2.__version__} has no ximgproc. Run tools/setup.sh.')
    return cv2


def selective_search(img: np.ndarray,
                     mode: str = 'fast',
                     max_side: Optional[int] = None,
                     min_size: int = 2,
                     seed: Optional[int] = 0) -> np.ndarray:
    """Selective Search boxes of one image.

    Args:
        img (np.ndarray): [H, W, 3] uint8, BGR (as ``cv2.imread`` gives).
        mode (str): 'fast' and 'quality' are the two published strategy sets
            (Uijlings et al.), 'single' one strategy only (fastest).
        max_side (int, optional): Run on a copy resized so that its longer
            side is at most this, then scale boxes back: the cost falls with
            the square of the factor.
        min_size (int): Boxes narrower or lower than this are dropped.
        seed (int, optional): Seed of C ``rand()`` set just before the search
            (see :func:`seed_c_rand`), so that the same image gives the same
            boxes in the same order in any process and call (on POSIX
            systems). None leaves the C RNG as it is.

    Returns:
        np.ndarray: [K, 4] float32 x1, y1, x2, y2 in pixels of ``img``
        (x2, y2 exclusive), in OpenCV's output order (ascending
        ``rand() * level`` over all groupings, the pseudo-random ranking of
        Uijlings et al.: regions merged early, i.e. small ones, tend to come
        first), duplicates removed.
    """
    cv2 = _ximgproc()
    if mode not in SS_MODES:
        raise ValueError(f'mode must be one of {SS_MODES}, got {mode!r}')
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'expected an [H, W, 3] image, got {img.shape}')
    h, w = img.shape[:2]
    scale = 1.0
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(img)
    if mode == 'fast':
        ss.switchToSelectiveSearchFast()
    elif mode == 'quality':
        ss.switchToSelectiveSearchQuality()
    else:
        ss.switchToSingleStrategy()
    if seed is not None:
        seed_c_rand(seed)
    rects = np.asarray(ss.process(), dtype=np.float32).reshape(-1, 4)
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
    if scale != 1.0:
        boxes /= scale
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
    boxes = np.round(boxes)
    _, first = np.unique(boxes, axis=0, return_index=True)
    boxes = boxes[np.sort(first)]
    keep = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & \
        ((boxes[:, 3] - boxes[:, 1]) >= min_size)
    return boxes[keep].astype(np.float32)
