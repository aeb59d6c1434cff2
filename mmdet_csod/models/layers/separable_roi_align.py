"""RoIAlign on CPUs as two matrix products (the bilinear weights factorise).

RoIAlign (average mode) samples every output bin at ``s x s`` points and
interpolates bilinearly. The sample points of a bin lie on a grid, and a
bilinear weight is the product of a weight along y and one along x, so for
one RoI

    out[c, i, j] = sum_y sum_x Wy[i, y] * F[c, y, x] * Wx[j, x],

``Wy`` [out_h, H] and ``Wx`` [out_w, W] the bin-averaged interpolation
weights along each axis. Computed as a batched matrix product, forward and
backward are dense GEMMs instead of mmcv's CPU kernel, whose backward
scatters into the feature map one sample at a time (on the small CPU models
RoIAlign forward and backward were ~35 % of a DRN training step; here they
take about 2.5x less). The weights follow mmcv's kernel exactly: the same
sample points, points beyond one pixel outside the map count as 0, points
in the border pixel are clamped to it, ``aligned`` shifts by half a pixel,
``sampling_ratio=0`` uses ``ceil(roi_size / out_size)`` points per bin
(per RoI and axis). tests/models/test_separable_roi_align.py compares both
directions with ``mmcv.ops.RoIAlign``.
"""
from typing import Tuple

import torch
from mmcv.ops import RoIAlign
from mmdet.registry import MODELS
from torch import Tensor

#: RoIs pooled by one pair of matrix products (bounds the intermediate)
ROI_CHUNK = 256


def axis_weights(start: Tensor, end: Tensor, size: int, out: int,
                 sampling_ratio: int, aligned: bool) -> Tensor:
    """Bin-averaged bilinear weights of RoIs along one axis.

    Args:
        start, end (Tensor): [N] RoI bounds in feature-map pixels (already
            scaled and, when ``aligned``, shifted by -0.5).
        size (int): length of the feature map along the axis (H or W).
        out (int): number of output bins along the axis.
        sampling_ratio (int): sample points per bin; 0 for adaptive.
        aligned (bool): mmcv's ``aligned`` (no minimum RoI size of 1).

    Returns:
        Tensor: [N, out, size]; row ``i`` sums to the fraction of bin
        ``i``'s sample points inside the map (1 for RoIs inside it).
    """
    num = start.shape[0]
    length = end - start
    if not aligned:
        length = length.clamp(min=1.0)
    bin_size = length / out
    if sampling_ratio > 0:
        counts = torch.full_like(start, float(sampling_ratio))
        max_count = sampling_ratio
    else:
        counts = torch.ceil(bin_size).clamp(min=1.0)
        max_count = int(counts.max().item()) if num else 1
    steps = torch.arange(max_count, dtype=start.dtype, device=start.device)
    bins = torch.arange(out, dtype=start.dtype, device=start.device)
    # [N, out, max_count] sample coordinates, as mmcv's kernel places them
    pos = (start[:, None, None] + bins[None, :, None] * bin_size[:, None, None]
           + (steps[None, None, :] + 0.5) *
           (bin_size / counts)[:, None, None])
    used = steps[None, None, :] < counts[:, None, None]
    inside = (pos >= -1.0) & (pos <= size) & used
    pos = pos.clamp(min=0.0)
    low = pos.floor()
    at_edge = low >= size - 1
    low = torch.where(at_edge, torch.full_like(low, size - 1), low)
    pos = torch.where(at_edge, low, pos)
    high = torch.where(at_edge, low, low + 1)
    frac = pos - low
    share = inside.to(start.dtype) / counts[:, None, None]
    weights = start.new_zeros(num, out, size)
    weights.scatter_add_(2, low.long(), (1 - frac) * share)
    weights.scatter_add_(2, high.long(), frac * share)
    return weights


def separable_roi_align(feats: Tensor,
                        rois: Tensor,
                        output_size: Tuple[int, int],
                        spatial_scale: float,
                        sampling_ratio: int = 0,
                        aligned: bool = True) -> Tensor:
    """RoIAlign (average mode) as two batched matrix products.

    Args:
        feats (Tensor): [B, C, H, W] feature maps.
        rois (Tensor): [N, 5] (batch index, x1, y1, x2, y2) in image pixels.
        output_size (tuple[int, int]): (out_h, out_w).
        spatial_scale (float): feature pixels per image pixel.
        sampling_ratio (int): sample points per bin and axis; 0: adaptive.
        aligned (bool): shift the RoI by half a pixel (mmcv's meaning).

    Returns:
        Tensor: [N, C, out_h, out_w], differentiable in ``feats``.
    """
    assert rois.dim() == 2 and rois.size(1) == 5, \
        'RoIs must be [N, 5] (batch index, x1, y1, x2, y2)'
    num_imgs, channels, height, width = feats.shape
    out_h, out_w = output_size
    if rois.size(0) == 0:
        return feats.new_zeros(0, channels, out_h, out_w)
    offset = 0.5 if aligned else 0.0
    box = rois[:, 1:].to(feats.dtype) * spatial_scale - offset
    w_y = axis_weights(box[:, 1], box[:, 3], height, out_h, sampling_ratio,
                       aligned)
    w_x = axis_weights(box[:, 0], box[:, 2], width, out_w, sampling_ratio,
                       aligned)
    img_inds = rois[:, 0].long()
    if img_inds.min() < 0 or img_inds.max() >= num_imgs:
        raise IndexError(f'RoI batch indices {int(img_inds.min())}..'
                         f'{int(img_inds.max())} outside the {num_imgs} '
                         'feature maps')
    order = torch.argsort(img_inds, stable=True)
    counts = torch.bincount(img_inds, minlength=num_imgs).tolist()
    pieces = []
    for img, inds in enumerate(order.split(counts)):
        if inds.numel() == 0:
            continue
        # [H, C * W]: contract y first, so the product is bmm-ready
        feat = feats[img].permute(1, 0, 2).reshape(height, channels * width)
        # at most ROI_CHUNK RoIs at a time: the intermediate is
        # [n, out_h * C, W] (150 RoIs of a 128 x 40 x 60 map: 32 MB)
        for chunk in inds.split(ROI_CHUNK):
            num = chunk.numel()
            rows = (w_y[chunk].reshape(num * out_h, height) @ feat).reshape(
                num, out_h * channels, width)
            cells = torch.bmm(rows, w_x[chunk].transpose(1, 2))
            pieces.append(
                cells.reshape(num, out_h, channels,
                              out_w).permute(0, 2, 1, 3))
    pooled = torch.cat(pieces)
    return pooled[torch.argsort(order)]


@MODELS.register_module()
class SeparableRoIAlign(RoIAlign):
    """``mmcv.ops.RoIAlign`` that runs :func:`separable_roi_align` on CPUs.

    Same arguments and results as RoIAlign; CUDA inputs, ``pool_mode='max'``
    (not separable) and ``use_torchvision`` go to RoIAlign's own forward.
    Used through ``RegisteredLayerRoIExtractor`` (mmdet's SingleRoIExtractor
    takes ``roi_layer`` types from ``mmcv.ops`` only).
    """

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        """[B, C, H, W] features, [N, 5] RoIs -> [N, C, out_h, out_w]."""
        if (input.is_cuda or self.pool_mode != 'avg'
                or self.use_torchvision):
            return super().forward(input, rois)
        return separable_roi_align(input, rois, self.output_size,
                                   self.spatial_scale, self.sampling_ratio,
                                   self.aligned)
