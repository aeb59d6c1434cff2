"""Selective Search proposals with OpenCV contrib (``cv2.ximgproc``)."""
from typing import Optional

import numpy as np

SS_MODES = ('fast', 'quality', 'single')


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
                     min_size: int = 2) -> np.ndarray:
    """Selective Search boxes of one image.

    Args:
        img (np.ndarray): [H, W, 3] uint8, BGR (as ``cv2.imread`` gives).
        mode (str): 'fast' and 'quality' are the two published strategy sets
            (Uijlings et al.), 'single' one strategy only (fastest).
        max_side (int, optional): Run on a copy resized so that its longer
            side is at most this, then scale boxes back: the cost falls with
            the square of the factor.
        min_size (int): Boxes narrower or lower than this are dropped.

    Returns:
        np.ndarray: [K, 4] float32 x1, y1, x2, y2 in pixels of ``img``
        (x2, y2 exclusive), in OpenCV's output order (its hierarchical
        grouping order, small regions first), duplicates removed.
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
        img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))),
                         interpolation=cv2.INTER_AREA)
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(img)
    if mode == 'fast':
        ss.switchToSelectiveSearchFast()
    elif mode == 'quality':
        ss.switchToSelectiveSearchQuality()
    else:
        ss.switchToSingleStrategy()
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
