"""Class-agnostic heatmaps painted from scored boxes (the CSOD paper's SCM)."""
from typing import Sequence, Tuple

import torch
from torch import Tensor

HEATMAP_MODES = ('max', 'sum', 'num')
DEFAULT_MODES = ('max', 'sum')  # the paper's two-channel heatmap

# Upper bound on the elements of the [n, H, W] tensor built for 'max'; the
# boxes are taken in chunks of at most this many pixels' worth.
_MAX_CHUNK_ELEMS = 1 << 24


def _coverage_masks(bboxes: Tensor, size: Tuple[int, int],
                    dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    """Row and column masks of the pixels each box covers.

    Box n covers pixel (i, j) iff ``floor(y1) <= i < ceil(y2)`` and
    ``floor(x1) <= j < ceil(x2)``; rows and columns outside ``[0, H)`` /
    ``[0, W)`` do not exist, which clips the boxes to the map.

    Args:
        bboxes (Tensor): [N, 4] x1, y1, x2, y2.
        size (tuple[int, int]): (H, W).
        dtype (torch.dtype): dtype of the masks.

    Returns:
        tuple[Tensor, Tensor]: rows [N, H] and cols [N, W], 0 / 1 values.
    """
    height, width = size
    bboxes = bboxes.detach()
    first = bboxes[:, :2].floor()  # [N, 2] x, y
    last = bboxes[:, 2:].ceil()  # [N, 2] exclusive
    ys = torch.arange(height, device=bboxes.device, dtype=bboxes.dtype)
    xs = torch.arange(width, device=bboxes.device, dtype=bboxes.dtype)
    rows = (ys[None] >= first[:, 1:2]) & (ys[None] < last[:, 1:2])
    cols = (xs[None] >= first[:, 0:1]) & (xs[None] < last[:, 0:1])
    return rows.to(dtype), cols.to(dtype)


def synthesize_heatmap(bboxes: Tensor,
                       scores: Tensor,
                       size: Tuple[int, int],
                       modes: Sequence[str] = DEFAULT_MODES) -> Tensor:
    """Paint a class-agnostic heatmap from scored boxes.

    Each pixel takes, per channel (one per entry of ``modes``, in order):

    - ``'max'``: the highest score of the boxes covering it,
    - ``'sum'``: the sum of the scores of the boxes covering it,
    - ``'num'``: the number of boxes covering it,

    and 0 where no box covers it. Box n covers pixel (i, j) (row i, column
    j) iff ``floor(y1) <= i < ceil(y2)`` and ``floor(x1) <= j < ceil(x2)``,
    clipped to the map: a box with fractional corners covers every pixel it
    touches, a zero-size box at a fractional position covers one pixel, one
    at an integer position none.

    Vectorized: the coverage of box n is the outer product of a row mask
    [N, H] and a column mask [N, W]; 'sum' and 'num' are einsums of these,
    'max' an amax over the boxes of the broadcast [N, H, W] product (built
    in chunks of boxes to bound memory).

    Args:
        bboxes (Tensor): [N, 4] x1, y1, x2, y2 in heatmap pixels.
        scores (Tensor): [N] box scores. Not differentiated through.
        size (tuple[int, int]): (H, W) of the heatmap.
        modes (Sequence[str]): channels, each of 'max', 'sum', 'num'.

    Returns:
        Tensor: [len(modes), H, W] with the dtype and device of ``scores``;
        all zeros with no box.
    """
    modes = tuple(modes)
    for mode in modes:
        if mode not in HEATMAP_MODES:
            raise ValueError(f'heatmap modes must be in {HEATMAP_MODES}, '
                             f'got {mode!r}')
    height, width = int(size[0]), int(size[1])
    num_boxes = len(scores)
    if bboxes.shape != (num_boxes, 4):
        raise ValueError(f'bboxes {tuple(bboxes.shape)} do not match scores '
                         f'{tuple(scores.shape)}')
    scores = scores.detach()
    out = scores.new_zeros((len(modes), height, width))
    if num_boxes == 0 or height == 0 or width == 0 or len(modes) == 0:
        return out
    bboxes = bboxes.to(scores.device)
    if not bboxes.is_floating_point():
        bboxes = bboxes.float()
    rows, cols = _coverage_masks(bboxes, (height, width), scores.dtype)

    channels = {}
    if 'sum' in modes:
        channels['sum'] = torch.einsum('nh,nw->hw', rows * scores[:, None],
                                       cols)
    if 'num' in modes:
        channels['num'] = torch.einsum('nh,nw->hw', rows, cols)
    if 'max' in modes:
        chunk = max(1, _MAX_CHUNK_ELEMS // (height * width))
        lowest = torch.finfo(scores.dtype).min
        running = scores.new_full((height, width), lowest)
        for start in range(0, num_boxes, chunk):  # one pass for usual sizes
            r, c = rows[start:start + chunk], cols[start:start + chunk]
            s = scores[start:start + chunk]
            covered = (r[:, :, None] * c[:, None, :]) > 0  # [n, H, W]
            painted = torch.where(covered, s[:, None, None],
                                  scores.new_tensor(lowest))
            running = torch.maximum(running, painted.amax(dim=0))
        channels['max'] = torch.where(running > lowest, running,
                                      running.new_zeros(()))
    for k, mode in enumerate(modes):
        out[k] = channels[mode]
    return out
