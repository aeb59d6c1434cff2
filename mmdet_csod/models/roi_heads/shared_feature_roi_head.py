"""Detection RoI head that can take its RoI features from another head."""
from typing import Callable, List, Optional, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, get_box_tensor
from mmdet.utils import InstanceList
from torch import Tensor


@MODELS.register_module()
class SharedFeatureRoIHead(StandardRoIHead):
    """:class:`StandardRoIHead` whose RoI features may come from elsewhere.

    In the DRN the recognition head and the detection head share RoI
    pooling and the two fc layers after it. The detector hands this head
    the recognition head's feature function with :meth:`share_features`;
    ``bbox_head`` then works on the [N, D] fc features (e.g. a
    ``ConvFCBBoxHead`` with no shared layer and ``roi_feat_size=1``).
    In training, :meth:`loss` can also take the features the recognition
    head has already computed for every proposal: the sampled proposals
    then reuse them and only the ground-truth boxes added as proposals are
    pooled anew (RoI pooling of every proposal twice was the costliest part
    of a DRN step on CPU).
    Without shared features (``bbox_roi_extractor`` given, the "Two Branch"
    baseline) it is exactly a ``StandardRoIHead``. Assignment, sampling,
    losses and prediction are StandardRoIHead's.
    """

    def __init__(self, bbox_roi_extractor: Optional[dict] = None,
                 **kwargs) -> None:
        self._feature_fn: Optional[Callable] = None
        self._reuse: Optional[tuple] = None
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

    def loss(self,
             x: Tuple[Tensor],
             rpn_results_list: InstanceList,
             batch_data_samples: SampleList,
             proposal_feats: Optional[List[Tensor]] = None) -> dict:
        """StandardRoIHead's loss, optionally on precomputed features.

        Args:
            x (tuple[Tensor]): Backbone features.
            rpn_results_list (list[InstanceData]): Per image ``bboxes``
                [R_i, 4].
            batch_data_samples (list[DetDataSample]): With gt_instances.
            proposal_feats (list[Tensor], optional): Per image [R_i, D]
                features of exactly those proposals, from the shared
                feature function (requires :meth:`share_features`).
        """
        if proposal_feats is None:
            return super().loss(x, rpn_results_list, batch_data_samples)
        if self._feature_fn is None:
            raise RuntimeError('proposal_feats need share_features(): '
                               'this head pools its own RoI features')
        boxes = [get_box_tensor(r.bboxes) for r in rpn_results_list]
        if [len(b) for b in boxes] != [len(f) for f in proposal_feats]:
            raise ValueError('proposal_feats must hold one row per proposal')
        gts = [get_box_tensor(s.gt_instances.bboxes)
               for s in batch_data_samples]
        self._reuse = (boxes, proposal_feats, gts)
        try:
            return super().loss(x, rpn_results_list, batch_data_samples)
        finally:
            self._reuse = None

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        if self._reuse is None:
            return super().bbox_loss(x, sampling_results)
        rois = bbox2roi([res.priors for res in sampling_results])
        feats = self._sampled_features(x, sampling_results)
        cls_score, bbox_pred = self.bbox_head(feats)
        out = self.bbox_head.loss_and_target(
            cls_score=cls_score,
            bbox_pred=bbox_pred,
            rois=rois,
            sampling_results=sampling_results,
            rcnn_train_cfg=self.train_cfg)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred,
                    bbox_feats=feats, loss_bbox=out['loss_bbox'])

    def _sampled_features(self, x: Tuple[Tensor],
                          sampling_results: List[SamplingResult]) -> Tensor:
        """[sum of sampled, D] features in the order of ``res.priors``.

        The sampler indexes [gt boxes added as proposals; proposals]; the
        gt rows are pooled here, the proposal rows are gathered.
        """
        boxes, feats, gts = self._reuse
        if not getattr(self.bbox_sampler, 'add_gt_as_proposals', False):
            gts = [g[:0] for g in gts]
        gt_feats = feats[0].new_zeros((0, feats[0].shape[1]))
        if sum(len(g) for g in gts):
            gt_feats = self._feature_fn(x, bbox2roi(gts))
        gt_feats = gt_feats.split([len(g) for g in gts])
        out = []
        for i, res in enumerate(sampling_results):
            table = torch.cat([gt_feats[i], feats[i]])
            inds = torch.cat([res.pos_inds, res.neg_inds])
            priors = torch.cat([gts[i], boxes[i]])[inds]
            if not torch.equal(priors, get_box_tensor(res.priors)):
                raise RuntimeError(
                    'sampled RoIs do not index [gt; proposals]: the '
                    f'sampler {type(self.bbox_sampler).__name__} is not '
                    'supported with proposal_feats')
            out.append(table[inds])
        return torch.cat(out)
