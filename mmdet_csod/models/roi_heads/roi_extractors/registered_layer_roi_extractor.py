"""SingleRoIExtractor whose RoI layer may be any registered module."""
from typing import List

from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from mmdet.utils import ConfigType
from torch import nn


@MODELS.register_module()
class RegisteredLayerRoIExtractor(SingleRoIExtractor):
    """:class:`SingleRoIExtractor` with ``roi_layer`` types from MODELS.

    mmdet's extractor looks a string ``roi_layer.type`` up in ``mmcv.ops``
    only; this one first in mmdet's MODELS registry (e.g. ``type=
    'SeparableRoIAlign'``), then in ``mmcv.ops`` as mmdet does. Everything
    else is SingleRoIExtractor's.
    """

    def build_roi_layers(self, layer_cfg: ConfigType,
                         featmap_strides: List[int]) -> nn.ModuleList:
        """One RoI layer per stride, ``spatial_scale = 1 / stride``."""
        layer_type = layer_cfg['type']
        if isinstance(layer_type, str):
            layer_cls = MODELS.get(layer_type)
            if layer_cls is not None:
                cfg = dict(layer_cfg)
                cfg['type'] = layer_cls
                return super().build_roi_layers(cfg, featmap_strides)
        return super().build_roi_layers(layer_cfg, featmap_strides)
