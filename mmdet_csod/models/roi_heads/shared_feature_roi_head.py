"""Detection RoI head that can take its RoI features from another head."""
from typing import Callable, List, Optional, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, get_box_tensor
from mmdet.utils import InstanceList
from torch import Tensor

from ..losses.unknown_classes import merge_unknown_logits


@MODELS.register_module()
class SharedFeatureRoIHead(StandardRoIHead):
    """:class:`StandardRoIHead` whose RoI features may come from elsewhere.

    In the DRN the recognition head and the detection head share RoI
    pooling and the two fc layers after it. The detector hands this head
    the recognition head's feature function with :meth:`share_features`;
    ``bbox_head`` then works on the [N, D] fc features (e.g. a ``BBoxHead``
    with ``roi_feat_size=1``).

    Two arguments of :meth:`loss` go beyond ``StandardRoIHead``:

    * ``proposal_feats``: the features the recognition head has already
      computed for every proposal, passed in the way mmdet passes
      ``bbox_feats`` to ``mask_loss``. The sampled proposals then reuse
      them and only the ground-truth boxes that the sampler adds as
      proposals are pooled anew (pooling every proposal twice was the
      costliest part of a DRN step on CPU).
    * ``unlabelled``: per image, the proposals that may hold an object of
      a class the image is labelled with but that has no box there (a
      novel class). They are never sampled as background (their
      assignment is set to "ignore" when it would be negative); they can
      still be positives of a ground-truth or pseudo box.
    * ``image_label_weights`` [B, C]: 0 for a class unknown in an image (a
      partial source, ``CSODCocoDataset(unlabeled='ignore')``: novel
      classes in a box-source image, base classes in a tagged one). The
      classification loss merges those classes into background for the
      image's proposals (:func:`merge_unknown_logits`): a proposal sampled
      as background may be an object of an unknown class and is not taught
      that it is none (``-log(p_bg + sum_u p_u)``); a positive is its class
      and no other. A class with a box in the image (ground truth or
      pseudo box) is known there. The box regression is unchanged.

    Without shared features (``bbox_roi_extractor`` given, the "Two Branch"
    baseline) and without these arguments it is exactly a
    ``StandardRoIHead``.
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

    def roi_features(self, x: Tuple[Tensor], rois: Tensor) -> Tensor:
        """[N, D] features of ``rois`` [N, 5] (shared or own pooling)."""
        if self._feature_fn is not None:
            return self._feature_fn(x, rois)
        if not hasattr(self, 'bbox_roi_extractor'):
            raise RuntimeError(
                'SharedFeatureRoIHead without bbox_roi_extractor needs '
                'share_features() before use')
        feats = self.bbox_roi_extractor(
            x[:self.bbox_roi_extractor.num_inputs], rois)
        if self.with_shared_head:
            feats = self.shared_head(feats)
        return feats

    def _bbox_forward(self, x: Tuple[Tensor], rois: Tensor) -> dict:
        # StandardRoIHead's predict path calls this
        feats = self.roi_features(x, rois)
        cls_score, bbox_pred = self.bbox_head(feats)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred,
                    bbox_feats=feats)

    def forward_rois(self, x: Tuple[Tensor], rois: Tensor) -> dict:
        """``cls_score`` [N, C + 1], ``bbox_pred`` [N, 4 C] (or [N, 4])
        and ``bbox_feats`` of ``rois`` [N, 5]."""
        return self._bbox_forward(x, rois)

    def loss(self,
             x: Tuple[Tensor],
             rpn_results_list: InstanceList,
             batch_data_samples: SampleList,
             proposal_feats: Optional[List[Tensor]] = None,
             unlabelled: Optional[List[Tensor]] = None,
             image_label_weights: Optional[Tensor] = None) -> dict:
        """Assign, sample and compute the detection losses.

        Args:
            x (tuple[Tensor]): Backbone features.
            rpn_results_list (list[InstanceData]): Per image ``bboxes``
                [R_i, 4].
            batch_data_samples (list[DetDataSample]): With gt_instances.
            proposal_feats (list[Tensor], optional): Per image [R_i, D]
                features of exactly those proposals, from the shared
                feature function (requires :meth:`share_features`).
            unlabelled (list[Tensor], optional): Per image bool [R_i]:
                proposals never taken as background.
            image_label_weights (Tensor, optional): [B, C] over this head's
                classes, 0 for a class unknown in the image (merged into
                background by the classification loss). None: all known.

        Returns:
            dict: ``loss_cls``, ``loss_bbox`` and ``acc``.
        """
        if image_label_weights is not None and tuple(
                image_label_weights.shape) != (len(rpn_results_list),
                                               self.bbox_head.num_classes):
            raise ValueError(
                f'image_label_weights {tuple(image_label_weights.shape)} '
                f'must be [images, classes] = [{len(rpn_results_list)}, '
                f'{self.bbox_head.num_classes}]')
        if proposal_feats is not None and self._feature_fn is None:
            raise RuntimeError('proposal_feats need share_features(): '
                               'this head pools its own RoI features')
        counts = [len(r.bboxes) for r in rpn_results_list]
        for name, per_img in (('proposal_feats', proposal_feats),
                              ('unlabelled', unlabelled)):
            if per_img is not None and [len(t) for t in per_img] != counts:
                raise ValueError(f'{name} must hold one row per proposal')
        gt_list, ignore_list, _ = unpack_gt_instances(batch_data_samples)
        if image_label_weights is not None:
            image_label_weights = self.boxed_classes_known(
                image_label_weights, gt_list)
        sampling_results = []
        for i, rpn_results in enumerate(rpn_results_list):
            priors = rpn_results.clone()
            priors.priors = priors.pop('bboxes')
            assign_result = self.bbox_assigner.assign(
                priors, gt_list[i], ignore_list[i])
            if unlabelled is not None:
                hidden = unlabelled[i].to(assign_result.gt_inds.device,
                                          torch.bool)
                assign_result.gt_inds[hidden & (assign_result.gt_inds == 0)] \
                    = -1
            sampling_results.append(
                self.bbox_sampler.sample(
                    assign_result,
                    priors,
                    gt_list[i],
                    feats=[lvl_feat[i][None] for lvl_feat in x]))
        sampled_feats = None
        if proposal_feats is not None:
            sampled_feats = self.sampled_features(
                x, sampling_results, proposal_feats,
                [get_box_tensor(g.bboxes) for g in gt_list])
        return self.bbox_loss(x, sampling_results, sampled_feats,
                              image_label_weights)['loss_bbox']

    @staticmethod
    def boxed_classes_known(image_label_weights: Tensor,
                            gt_list: InstanceList) -> Tensor:
        """[B, C] weights with every class that has a box in the image
        (ground truth or pseudo) known there: a box is its class's target,
        which must not be merged away."""
        weights = image_label_weights.clone()
        for i, gt in enumerate(gt_list):
            weights[i, gt.labels.to(weights.device).long()] = 1
        return weights

    def bbox_loss(self,
                  x: Tuple[Tensor],
                  sampling_results: List[SamplingResult],
                  sampled_feats: Optional[Tensor] = None,
                  image_label_weights: Optional[Tensor] = None) -> dict:
        """StandardRoIHead's bbox loss; ``sampled_feats`` [N, D] are the
        features of the sampled RoIs in their order, when precomputed;
        ``image_label_weights`` [B, C] as in :meth:`loss`. The returned
        ``cls_score`` [N, C + 1] is the head's, before any merge."""
        rois = bbox2roi([res.priors for res in sampling_results])
        feats = self.roi_features(x, rois) if sampled_feats is None \
            else sampled_feats
        cls_score, bbox_pred = self.bbox_head(feats)
        out = self.bbox_head.loss_and_target(
            cls_score=merge_unknown_logits(cls_score, image_label_weights,
                                           rois[:, 0].long()),
            bbox_pred=bbox_pred,
            rois=rois,
            sampling_results=sampling_results,
            rcnn_train_cfg=self.train_cfg)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred,
                    bbox_feats=feats, loss_bbox=out['loss_bbox'])

    def sampled_features(self, x: Tuple[Tensor],
                         sampling_results: List[SamplingResult],
                         proposal_feats: List[Tensor],
                         gt_bboxes: List[Tensor]) -> Tensor:
        """[sum of sampled, D] features in the order of ``res.priors``.

        mmdet's samplers index ``[gt boxes; proposals]`` when they add the
        ground truth as proposals (``BaseSampler.sample``), else the
        proposals alone: the gt rows are pooled here, the proposal rows
        gathered from ``proposal_feats``.
        """
        add_gt = getattr(self.bbox_sampler, 'add_gt_as_proposals', False)
        gts = [g if add_gt else g[:0] for g in gt_bboxes]
        dim = proposal_feats[0].shape[1]
        gt_feats = proposal_feats[0].new_zeros((0, dim))
        if sum(len(g) for g in gts):
            gt_feats = self._feature_fn(x, bbox2roi(gts))
        gt_feats = gt_feats.split([len(g) for g in gts])
        out = []
        for res, gt_f, prop_f in zip(sampling_results, gt_feats,
                                     proposal_feats):
            table = torch.cat([gt_f, prop_f])
            out.append(table[torch.cat([res.pos_inds, res.neg_inds])])
        return torch.cat(out)
