"""An FCOS head whose classification and box regression read two streams."""
from typing import Tuple

from mmcv.cnn import Scale
from mmdet.models.dense_heads import FCOSHead
from mmdet.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ExtentFCOSHead(FCOSHead):
    """:class:`FCOSHead` on a feature level that stacks two streams.

    The level's ``2 * feat_channels`` channels are a *where* stream (the
    first ``feat_channels``) and an *extent* stream (the rest). The class
    score and the centerness, which together decide the location a box is
    taken from, read the where stream only; the box distances read the
    extent stream. :class:`HeatmapFCOS` with ``extent_channels`` feeds it:
    its where stream sees only the SCM's heatmaps, so which object a query
    gets cannot depend on what the object looks like, and its extent stream
    also sees the image features, so the box can follow the object's
    outline (see :class:`HeatmapFeatureInputs`).

    Only :meth:`forward_single` differs from FCOS (targets, losses and
    decoding are FCOSHead's). ``stacked_convs`` towers, when configured,
    run on their own stream.
    """

    def forward_single(self, x: Tensor, scale: Scale,
                       stride: int) -> Tuple[Tensor, Tensor, Tensor]:
        """Scores, distances and centerness of one level.

        Args:
            x (Tensor): [N, 2 * feat_channels, H, W], where stream first.
            scale (Scale): The level's learnable scale of the distances.
            stride (int): The level's stride.

        Returns:
            tuple: cls_score [N, num_classes, H, W], bbox_pred [N, 4, H, W]
            (as FCOSHead gives them: in units of the stride in training
            with ``norm_on_bbox``, else in pixels), centerness [N, 1, H, W].
        """
        if x.shape[1] != 2 * self.feat_channels:
            raise ValueError(f'ExtentFCOSHead takes 2 x {self.feat_channels} '
                             f'channels (where, extent), got {x.shape[1]}')
        cls_feat, reg_feat = x.split(self.feat_channels, dim=1)
        for layer in self.cls_convs:
            cls_feat = layer(cls_feat)
        for layer in self.reg_convs:
            reg_feat = layer(reg_feat)
        cls_score = self.conv_cls(cls_feat)
        centerness = self.conv_centerness(cls_feat)
        bbox_pred = scale(self.conv_reg(reg_feat)).float()
        if self.norm_on_bbox:
            bbox_pred = bbox_pred.clamp(min=0)
            if not self.training:
                bbox_pred *= stride
        else:
            bbox_pred = bbox_pred.exp()
        return cls_score, bbox_pred, centerness
