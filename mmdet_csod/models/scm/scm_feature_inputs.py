"""SCM inputs that let the heatmap detector see the image, not only the
recognition head's evidence (beyond the paper)."""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.registry import TASK_UTILS
from mmdet.utils import InstanceList
from torch import Tensor

from .scm_inputs import HeatmapInputs, QueryHeatmaps, fixed_detector_arg


@dataclass
class QueryHeatmapsWithFeats(QueryHeatmaps):
    """:class:`QueryHeatmaps` whose ``heatmaps`` [Q, len(modes) + C_f,
    Hmax, Wmax] hold, after the heatmap channels, the ``C_f`` channels of
    the query's image features on the heatmap grid
    (:class:`HeatmapFeatureInputs`)."""


def features_on_heatmap_grid(feats: Tensor, feat_stride: float,
                             heatmap_stride: float,
                             size: Tuple[int, int]) -> Tensor:
    """A feature map resampled onto the heatmap's pixel grid.

    A coarser map is sampled bilinearly at the centres of the heatmap
    pixels (heatmap pixel ``u`` covers image pixels ``[u * s, (u + 1) *
    s)``; feature pixel ``j`` ``[j * f, (j + 1) * f)``), a finer one (the
    image itself) averaged over each heatmap pixel; then cut or zero-padded
    to ``size``.

    Args:
        feats (Tensor): [N, C, Hf, Wf] at ``feat_stride`` image pixels per
            pixel.
        feat_stride (float): Image pixels per feature pixel.
        heatmap_stride (float): Image pixels per heatmap pixel.
        size (tuple): (H, W) of the heatmap grid wanted.

    Returns:
        Tensor: [N, C, H, W].
    """
    ratio = feat_stride / heatmap_stride
    out_h = max(1, int(round(feats.shape[-2] * ratio)))
    out_w = max(1, int(round(feats.shape[-1] * ratio)))
    if ratio < 1:  # finer than the heatmap: the mean of each cell
        maps = F.adaptive_avg_pool2d(feats, (out_h, out_w))
    else:
        maps = F.interpolate(
            feats, size=(out_h, out_w), mode='bilinear', align_corners=False)
    h, w = size
    maps = maps[..., :h, :w]
    return F.pad(maps, (0, w - maps.shape[-1], 0, h - maps.shape[-2]))


@TASK_UTILS.register_module()
class HeatmapFeatureInputs(HeatmapInputs):
    """The class-agnostic heatmap of :class:`HeatmapInputs` plus the image's
    features under it (beyond the paper).

    The paper's SCM sees only where the recognition head's confident boxes
    lie. When they all sit on the telling part of an object (a head, a
    crown), nothing in a heatmap says where the rest of the object is. These
    inputs add the channels of the backbone's feature map, resampled onto
    the heatmap grid (:func:`features_on_heatmap_grid`) and detached (the
    SCM does not train the backbone), each image's divided by its root
    mean square so that their scale matches the normalized heatmaps'. The
    heatmap says which object the query is about; the features show its
    extent. Trained on base classes, as every SCM.

    The detector is told (``adapt_detector``) that the feature channels
    shape the boxes only (:class:`HeatmapFCOS`'s ``extent_channels``): fed
    to its class scores too, an SCM trained on base classes learnt to find
    base-looking objects and boxed 1 % of the novel objects (seed 1 of the
    generated benchmark, 84 % of the base ones).

    Args:
        modes (Sequence[str]): Heatmap channels (see :class:`HeatmapInputs`).
        normalize (bool): Divide each heatmap channel by its maximum.
        feat_channels (int): Channels of the feature map (the backbone's or
            neck's first output level), e.g. 128 for ``SmallVGG``, 512 for
            VGG16.
        feat_stride (float): Image pixels per feature-map pixel.
    """

    batch_type = QueryHeatmapsWithFeats
    needs_feats = True

    def feats_of(self, batch_inputs: Tensor, x) -> Tensor:
        """The first level of the backbone (neck) features ``x``
        [B, C, H_f, W_f], detached."""
        return x[0].detach()

    def __init__(self,
                 modes: Sequence[str] = ('max', 'sum'),
                 normalize: bool = True,
                 feat_channels: int = 128,
                 feat_stride: float = 8) -> None:
        super().__init__(modes=modes, normalize=normalize)
        if feat_channels < 1 or feat_stride <= 0:
            raise ValueError(f'feat_channels must be >= 1 and feat_stride > '
                             f'0, got {feat_channels}, {feat_stride}')
        self.feat_channels = int(feat_channels)
        self.feat_stride = feat_stride

    @property
    def num_channels(self) -> int:
        return len(self.modes) + self.feat_channels

    def adapt_detector(self, cfg: dict) -> dict:
        """The detector config with ``in_channels`` = the heatmap and
        feature channels and ``extent_channels`` = the feature channels
        (:class:`HeatmapFCOS`: the features shape the boxes only; another
        ``extent_channels`` given is an error)."""
        return fixed_detector_arg(
            super().adapt_detector(cfg), 'extent_channels',
            self.feat_channels, f'feat_channels={self.feat_channels}')

    def __call__(self,
                 queries: Tensor,
                 selected: InstanceList,
                 sizes: Sequence[Tuple[int, int]],
                 stride: float,
                 like: Tensor,
                 feats: Optional[Tensor] = None,
                 context: Optional[InstanceList] = None
                 ) -> QueryHeatmapsWithFeats:
        """The batch of the queries.

        Args:
            queries, selected, sizes, stride, like: as for
                :class:`HeatmapInputs`.
            feats (Tensor): [B, feat_channels, Hf, Wf], the feature map of
                the batch's images (query ``q`` uses image ``queries[q,
                0]``).

        Returns:
            QueryHeatmapsWithFeats: heatmaps [Q, len(modes) +
            feat_channels, Hmax, Wmax].
        """
        if feats is None:
            raise ValueError('HeatmapFeatureInputs needs the image features: '
                             'pass feats= to the SCM (the DRN passes its '
                             "backbone's first output level)")
        if feats.dim() != 4 or feats.shape[1] != self.feat_channels:
            raise ValueError(f'feats must be [B, {self.feat_channels}, H, W] '
                             f'(feat_channels), got {tuple(feats.shape)}')
        base = super().__call__(queries, selected, sizes, stride, like)
        hm = base.heatmaps
        grid = features_on_heatmap_grid(
            feats.detach().to(hm), self.feat_stride, stride, hm.shape[-2:])
        rms = grid.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
        grid = grid / rms.clamp(min=1e-6)
        img_ids = queries[:, 0].to(grid.device).long()
        # zero outside each query's unpadded heatmap, as its heatmap is
        hw = torch.tensor(list(sizes), device=grid.device).reshape(-1, 2)
        inside = (torch.arange(hm.shape[-2], device=grid.device)[None, :, None]
                  < hw[:, 0, None, None]) & \
            (torch.arange(hm.shape[-1], device=grid.device)[None, None, :]
             < hw[:, 1, None, None])
        per_query = grid[img_ids] * inside[:, None].to(grid)
        fields = {k: getattr(base, k) for k in base.__dataclass_fields__}
        fields['heatmaps'] = torch.cat([hm, per_query], dim=1)
        return QueryHeatmapsWithFeats(**fields)


@TASK_UTILS.register_module()
class HeatmapImageInputs(HeatmapFeatureInputs):
    """The heatmap of :class:`HeatmapInputs` plus the input image under it,
    averaged over each heatmap pixel (beyond the paper).

    :class:`HeatmapFeatureInputs` with the preprocessed image (``feats``
    [B, 3, H, W], stride 1) in place of the backbone's features. The
    backbone of a cross-supervised detector is trained to call unboxed
    novel objects background, and an SCM that read its features boxed the
    base objects well and the novel ones badly (README, "Ours+"); colours
    and edges are the same for every class, the cue Selective Search
    groups regions by. As there, the image shapes the boxes only
    (``extent_channels``).

    Args:
        modes (Sequence[str]): Heatmap channels (see :class:`HeatmapInputs`).
        normalize (bool): Divide each heatmap channel by its maximum.
        feat_channels (int): Channels of the image (3).
    """

    def feats_of(self, batch_inputs: Tensor, x) -> Tensor:
        """The preprocessed images ``batch_inputs`` [B, 3, H, W],
        detached."""
        return batch_inputs.detach()

    def __init__(self,
                 modes: Sequence[str] = ('max', 'sum'),
                 normalize: bool = True,
                 feat_channels: int = 3) -> None:
        super().__init__(
            modes=modes,
            normalize=normalize,
            feat_channels=feat_channels,
            feat_stride=1)
