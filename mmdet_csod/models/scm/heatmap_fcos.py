"""A tiny class-agnostic FCOS that detects objects on SCM heatmaps."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmdet.registry import MODELS
from mmdet.utils import InstanceList
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from torch import Tensor, nn

from .scm_inputs import QueryHeatmaps

INF = 1e8
#: the heatmap detector's ``predict_by_feat`` config: the top box
DEFAULT_TEST_CFG = dict(
    nms_pre=1000,
    min_bbox_size=0,
    score_thr=0.05,
    nms=dict(type='nms', iou_threshold=0.5),
    max_per_img=1)
FCOS_LOSS_KEYS = ('loss_cls', 'loss_bbox', 'loss_centerness')


def zero_losses(module: nn.Module, keys) -> Dict[str, Tensor]:
    """Zero losses that still depend on every parameter of ``module``.

    For batches with nothing to learn from, so that DDP sees a gradient
    (of zeros) for every parameter.
    """
    zero = sum(p.sum() * 0 for p in module.parameters())
    return {key: zero for key in keys}


@MODELS.register_module()
class HeatmapFCOS(BaseModule):
    """The SCM's heatmap detector: a few convs and mmdet's ``FCOSHead``.

    Trunk: ``num_convs`` 3x3 conv (+ norm) + ReLU layers of width
    ``feat_channels``, the first ``num_pools`` of them followed by a 2x2 max
    pooling, which gives a single feature level at stride ``s = 2 **
    num_pools``. On it, mmdet's :class:`FCOSHead` with one class
    (class-agnostic "object"), one level (``strides=[s]``,
    ``regress_ranges=((-1, 1e8), )``: every location inside a ground-truth box
    is positive) and its standard training: ``get_targets`` / ``loss_by_feat``
    (focal loss, (G)IoU loss, centerness BCE) and ``predict_by_feat``.

    Heatmaps are zero-padded at the bottom / right to a multiple of ``s``
    so that the pooled grid is aligned with FCOS's points
    ``((j + 0.5) * s, (i + 0.5) * s)``.

    Interface shared with :class:`ProposalFCRegressor` (see
    :class:`SpatialCorrelationModule`): ``loss(heatmaps, batch_gt_instances,
    batch_img_metas)`` and ``predict(heatmaps, batch_img_metas)``; it takes
    the SCM's :class:`QueryHeatmaps` (``input_type``), by default from
    ``HeatmapInputs`` (``default_inputs``).

    Args:
        in_channels (int): Heatmap channels (the SCM sets it to the number
            of heatmap modes).
        feat_channels (int): Width of the trunk and of the FCOS head.
        num_convs (int): Conv layers of the trunk (the paper: 5; Table 3b
            compares 2 to 5).
        num_pools (int): Max poolings, after the first ``num_pools`` convs.
        norm_cfg (dict, optional): Norm layer after each trunk conv, e.g.
            ``dict(type='GN', num_groups=8)`` as in FCOS's own towers.
            Default: None (no norm).
        head (dict): Overrides of the ``FCOSHead`` config (e.g.
            ``stacked_convs``, ``loss_bbox``, ``center_sampling``);
            ``num_classes``, ``in_channels``, ``strides`` and
            ``regress_ranges`` are set here. Default: no stacked convs
            (``stacked_convs=0``: cls / reg / centerness 3x3 convs straight
            on the trunk), ``norm_on_bbox`` (regression targets in units of
            the stride), ``centerness_on_reg``, GIoU loss, no norm layers,
            and ``conv_reg``'s bias initialized to 1 (distances of one
            stride): with ``norm_on_bbox`` the head clamps the distances at
            0, where they get no gradient, and with mmdet's zero bias a
            side can be stuck there from the start.
        test_cfg (dict, optional): ``predict_by_feat``'s config, merged
            over :data:`DEFAULT_TEST_CFG` (so ``dict(max_per_img=3)``
            changes only that key). The default keeps the top box:
            locations whose class score is below ``score_thr`` are dropped
            (the SCM then falls back to the recognition head's box), NMS,
            at most ``max_per_img`` boxes.
        extent_channels (int): With a value > 0, the last
            ``extent_channels`` of the ``in_channels`` are image features
            (:class:`HeatmapFeatureInputs`) for the box extent only: the
            first ``in_channels - extent_channels`` (the heatmaps) feed the
            trunk, all of them a second trunk of the same shape, and an
            :class:`ExtentFCOSHead` takes its class score and centerness
            from the first, its distances from the second. 0: one trunk on
            every channel, mmdet's ``FCOSHead``.
        init_cfg (dict): Init of the trunk; the head has its own.
    """

    input_type = QueryHeatmaps
    default_inputs = dict(type='HeatmapInputs')

    def __init__(self,
                 in_channels: int = 2,
                 feat_channels: int = 32,
                 num_convs: int = 5,
                 num_pools: int = 2,
                 norm_cfg: Optional[dict] = None,
                 head: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 extent_channels: int = 0,
                 init_cfg=dict(
                     type='Kaiming', layer='Conv2d', nonlinearity='relu')):
        super().__init__(init_cfg=init_cfg)
        if num_convs < 1:
            raise ValueError(f'num_convs must be >= 1, got {num_convs}')
        if not 0 <= num_pools <= num_convs:
            raise ValueError(f'num_pools must be in [0, num_convs='
                             f'{num_convs}], got {num_pools}')
        if not 0 <= extent_channels < in_channels:
            raise ValueError(f'extent_channels must be in [0, in_channels='
                             f'{in_channels}), got {extent_channels}')
        self.in_channels = in_channels
        self.extent_channels = extent_channels
        self.feat_channels = feat_channels
        self.num_convs = num_convs
        self.num_pools = num_pools
        self.stride = 2**num_pools

        def trunk(channels_in):
            layers = []
            for i in range(num_convs):
                layers.append(
                    nn.Conv2d(
                        channels_in if i == 0 else feat_channels,
                        feat_channels,
                        3,
                        padding=1,
                        bias=norm_cfg is None))
                if norm_cfg is not None:
                    layers.append(
                        build_norm_layer(norm_cfg, feat_channels)[1])
                layers.append(nn.ReLU(inplace=True))
                if i < num_pools:
                    layers.append(nn.MaxPool2d(2, 2))
            return nn.Sequential(*layers)

        self.trunk = trunk(in_channels - extent_channels)
        self.extent_trunk = trunk(in_channels) if extent_channels else None

        self.test_cfg = ConfigDict({**DEFAULT_TEST_CFG, **(test_cfg or {})})
        head_cfg = dict(
            type='FCOSHead',
            stacked_convs=0,
            norm_on_bbox=True,
            centerness_on_reg=True,
            center_sampling=False,
            norm_cfg=None,
            loss_cls=dict(
                type='FocalLoss',
                use_sigmoid=True,
                gamma=2.0,
                alpha=0.25,
                loss_weight=1.0),
            loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
            loss_centerness=dict(
                type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
            init_cfg=dict(
                type='Normal',
                layer='Conv2d',
                std=0.01,
                override=[
                    dict(
                        type='Normal',
                        name='conv_cls',
                        std=0.01,
                        bias_prob=0.01),
                    dict(type='Normal', name='conv_reg', std=0.01, bias=1.)
                ]))
        head_cfg.update(head or {})
        if extent_channels:
            head_cfg.update(type='ExtentFCOSHead')
        head_cfg.update(
            num_classes=1,
            in_channels=feat_channels,
            feat_channels=feat_channels,
            strides=[self.stride],
            regress_ranges=((-1, INF), ),
            test_cfg=self.test_cfg)
        self.head = MODELS.build(head_cfg)

    def forward(self, heatmaps: Tensor) -> Tuple[List[Tensor], ...]:
        """FCOS outputs on the single feature level.

        Args:
            heatmaps (Tensor): [Q, C_h, H, W].

        Returns:
            tuple: ``cls_scores`` [[Q, 1, H', W']], ``bbox_preds``
            [[Q, 4, H', W']] and ``centernesses`` [[Q, 1, H', W']] with
            ``H' = ceil(H / s)``, ``W' = ceil(W / s)``, as ``FCOSHead``
            returns them (``bbox_preds`` in units of ``s`` in training mode
            with ``norm_on_bbox``, in heatmap pixels otherwise).
        """
        height, width = heatmaps.shape[-2:]
        s = self.stride
        pad_h, pad_w = -height % s, -width % s
        if pad_h or pad_w:
            heatmaps = F.pad(heatmaps, (0, pad_w, 0, pad_h))
        if self.extent_trunk is None:
            return self.head((self.trunk(heatmaps), ))
        where = heatmaps[:, :self.in_channels - self.extent_channels]
        return self.head((torch.cat(
            [self.trunk(where), self.extent_trunk(heatmaps)], dim=1), ))

    def loss(self, heatmaps: Tensor, batch_gt_instances: InstanceList,
             batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """FCOS losses of a batch of heatmaps.

        Args:
            heatmaps (Tensor): [Q, C_h, H, W], zero-padded.
            batch_gt_instances (list[InstanceData]): Q items, ``bboxes``
                [K_q, 4] in heatmap pixels and ``labels`` [K_q] all 0.
            batch_img_metas (list[dict]): Q items with ``img_shape`` (the
                unpadded heatmap (h, w)) and ``pad_shape``.

        Returns:
            dict: ``loss_cls``, ``loss_bbox``, ``loss_centerness``; zeros
            depending on the parameters when Q = 0.
        """
        if len(heatmaps) == 0:
            return zero_losses(self, FCOS_LOSS_KEYS)
        cls_scores, bbox_preds, centernesses = self(heatmaps)
        return self.head.loss_by_feat(cls_scores, bbox_preds, centernesses,
                                      batch_gt_instances, batch_img_metas)

    @torch.no_grad()
    def predict(self, heatmaps: Tensor,
                batch_img_metas: List[dict]) -> InstanceList:
        """Boxes detected on each heatmap.

        Works in training mode too (the DRN makes pseudo ground truth while
        training): ``FCOSHead`` only rescales ``norm_on_bbox`` predictions
        by the stride in eval mode, so this does it in training mode.

        Args:
            heatmaps (Tensor): [Q, C_h, H, W], zero-padded.
            batch_img_metas (list[dict]): Q items with ``img_shape`` (the
                unpadded heatmap (h, w), boxes are clipped to it).

        Returns:
            list[InstanceData]: Q items with ``bboxes`` [n, 4] in heatmap
            pixels, ``scores`` [n] (class score times centerness) sorted
            in decreasing order, ``labels`` [n] (all 0); n may be 0.
        """
        if len(heatmaps) == 0:
            return []
        cls_scores, bbox_preds, centernesses = self(heatmaps)
        if self.head.training and self.head.norm_on_bbox:
            bbox_preds = [b * s for b, s in zip(bbox_preds, self.head.strides)]
        return self.head.predict_by_feat(
            cls_scores,
            bbox_preds,
            centernesses,
            batch_img_metas=batch_img_metas,
            cfg=self.test_cfg,
            rescale=False,
            with_nms=True)
