"""Detection RoI head that can take its RoI features from another head."""
from typing import Callable, Optional, Tuple

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class SharedFeatureRoIHead(StandardRoIHead):
    """:class:`StandardRoIHead` whose RoI features may come from elsewhere.

    In the DRN the recognition head and the detection head share RoI
    pooling and the two fc layers after it. The detector hands this head
    the recognition head's feature function with :meth:`share_features`;
    ``bbox_head`` then works on the [N, D] fc features (e.g. a
    ``ConvFCBBoxHead`` with no shared layer and ``roi_feat_size=1``).
    Without shared features (``bbox_roi_extractor`` given, the "Two Branch"
    baseline) it is exactly a ``StandardRoIHead``. Assignment, sampling,
    losses and prediction are StandardRoIHead's.
    """

    def __init__(self, bbox_roi_extractor: Optional[dict] = None,
                 **kwargs) -> None:
        self._feature_fn: Optional[Callable] = None
        super().__init__(bbox_roi_extractor=bbox_roi_extractor, **kwargs)

    def init_bbox_head(self, bbox_roi_extractor: Optional[dict],
                       bbox_head: dict) -> None:
        if bbox_roi_extractor is not None:
            self.bbox_roi_extractor = MODELS.build(bbox_roi_extractor)
        self.bbox_head = MODELS.build(bbox_head)

    @property
    def with_bbox(self) -> bool:
        return self.bbox_head is not None

    def share_features(self, feature_fn: Callable[[Tuple[Tensor], Tensor],
                                                  Tensor]) -> None:
        """Use ``feature_fn(x, rois [N, 5]) -> [N, D]`` for RoI features."""
        self._feature_fn = feature_fn

    @property
    def shares_features(self) -> bool:
        return self._feature_fn is not None

    def _bbox_forward(self, x: Tuple[Tensor], rois: Tensor) -> dict:
        if self._feature_fn is None:
            if not hasattr(self, 'bbox_roi_extractor'):
                raise RuntimeError(
                    'SharedFeatureRoIHead without bbox_roi_extractor needs '
                    'share_features() before use')
            return super()._bbox_forward(x, rois)
        feats = self._feature_fn(x, rois)
        cls_score, bbox_pred = self.bbox_head(feats)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred,
                    bbox_feats=feats)
