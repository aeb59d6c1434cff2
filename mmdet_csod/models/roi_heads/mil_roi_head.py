"""RoI head of weakly supervised (multiple-instance) detectors."""
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
from mmdet.models.roi_heads import BaseRoIHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, get_box_tensor, scale_boxes
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor, nn

from ...structures import (image_label_weights_of, image_labels_of,
                           nms_instances)


class RecOutputs(NamedTuple):
    """What :meth:`MILRoIHead.forward_rois` computes for a batch.

    Attributes:
        proposals (list[Tensor]): Per image [R_i, 4] proposal boxes.
        feats (Tensor): [sum R_i, D] shared fc features of the proposals
            (the features a detection head can reuse).
        outs (dict): The bbox head's raw outputs (its ``loss`` input).
        scores (list[Tensor]): Per image [R_i, C] proposal scores
            (``bbox_head.proposal_scores``), not detached.
    """
    proposals: List[Tensor]
    feats: Tensor
    outs: Dict[str, object]
    scores: List[Tensor]


@MODELS.register_module()
class MILRoIHead(BaseRoIHead):
    """Proposal features, then a multiple-instance bbox head.

    Every proposal of the image is scored (there is no sampling: the image
    labels supervise all of them). Features: RoI pooling of the backbone
    map (``bbox_roi_extractor``), flattened, then ``num_shared_fcs`` fc
    layers with ReLU and dropout (VGG16's fc6 and fc7 in the WSOD
    literature) — the "two shared fc layers" that a cross-supervised
    detector also feeds its detection head with.

    Args:
        bbox_roi_extractor (dict): RoI extractor config.
        bbox_head (dict): A :class:`MILBBoxHead` config; its ``in_channels``
            must equal ``fc_out_channels``.
        num_shared_fcs (int): Shared fc layers. Defaults to 2.
        fc_out_channels (int): Their width D. Defaults to 4096.
        dropout_ratio (float): Dropout after each fc in training.
        train_cfg (dict, optional): Unused (no assignment or sampling).
        test_cfg (dict, optional): ``score_thr``, ``nms``, ``max_per_img``.
    """

    def __init__(self,
                 bbox_roi_extractor: dict,
                 bbox_head: dict,
                 num_shared_fcs: int = 2,
                 fc_out_channels: int = 4096,
                 dropout_ratio: float = 0.5,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg=None) -> None:
        self.num_shared_fcs = num_shared_fcs
        self.fc_out_channels = fc_out_channels
        self.dropout_ratio = dropout_ratio
        super().__init__(
            bbox_roi_extractor=bbox_roi_extractor,
            bbox_head=bbox_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            init_cfg=init_cfg)

    def init_assigner_sampler(self) -> None:
        """No assigner or sampler: image labels supervise every proposal."""

    def init_mask_head(self, mask_roi_extractor, mask_head) -> None:
        raise NotImplementedError('MILRoIHead has no mask branch')

    def init_bbox_head(self, bbox_roi_extractor: dict,
                       bbox_head: dict) -> None:
        self.bbox_roi_extractor = MODELS.build(bbox_roi_extractor)
        out_size = self.bbox_roi_extractor.roi_layers[0].output_size
        out_size = out_size if isinstance(out_size,
                                          tuple) else (out_size, ) * 2
        in_dim = self.bbox_roi_extractor.out_channels * out_size[0] * \
            out_size[1]
        self.shared_fcs = nn.ModuleList()
        for i in range(self.num_shared_fcs):
            self.shared_fcs.append(
                nn.Linear(in_dim if i == 0 else self.fc_out_channels,
                          self.fc_out_channels))
        self.dropout = nn.Dropout(self.dropout_ratio)
        self.bbox_head = MODELS.build(bbox_head)
        feat_dim = self.fc_out_channels if self.num_shared_fcs else in_dim
        if self.bbox_head.in_channels != feat_dim:
            raise ValueError(f'bbox_head.in_channels is '
                             f'{self.bbox_head.in_channels}, but the proposal '
                             f'features have {feat_dim} channels')

    def extract_roi_features(self, x: Tuple[Tensor], rois: Tensor) -> Tensor:
        """[N, 5] rois (batch index, x1, y1, x2, y2) -> [N, D] features."""
        feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs],
                                        rois).flatten(1)
        for fc in self.shared_fcs:
            feats = self.dropout(fc(feats).relu())
        return feats

    def forward_rois(self, x: Tuple[Tensor],
                     rpn_results_list: InstanceList) -> RecOutputs:
        """Features and scores of every proposal.

        Args:
            x (tuple[Tensor]): Backbone features.
            rpn_results_list (list[InstanceData]): Per image ``bboxes``
                [R_i, 4].

        Returns:
            RecOutputs: proposals, shared features [sum R_i, D], the bbox
            head's outputs and per-image scores [R_i, C].
        """
        proposals = [get_box_tensor(r.bboxes) for r in rpn_results_list]
        rois = bbox2roi(proposals)
        feats = self.extract_roi_features(x, rois)
        counts = [len(p) for p in proposals]
        outs = self.bbox_head(feats, counts)
        scores = list(self.bbox_head.proposal_scores(outs).split(counts))
        return RecOutputs(proposals, feats, outs, scores)

    def forward(self,
                x: Tuple[Tensor],
                rpn_results_list: InstanceList,
                batch_data_samples: SampleList = None) -> tuple:
        """Tensor mode: ``(proposal scores [N, C], )``."""
        return (torch.cat(self.forward_rois(x, rpn_results_list).scores), )

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """Losses from the image labels (``data_samples.image_labels``),
        without the classes unknown in an image
        (``data_samples.image_label_weights`` 0, when the samples have
        them)."""
        rec = self.forward_rois(x, rpn_results_list)
        image_labels = image_labels_of(batch_data_samples)
        return self.bbox_head.loss(
            rec.outs,
            rec.proposals,
            image_labels,
            image_label_weights=image_label_weights_of(batch_data_samples))

    def predict_proposal_scores(self,
                                x: Tuple[Tensor],
                                rpn_results_list: InstanceList,
                                batch_data_samples: SampleList,
                                rescale: bool = True) -> InstanceList:
        """Every proposal with its class scores, before NMS.

        Returns:
            list[InstanceData]: per image ``bboxes`` [R, 4] (in the original
            image when ``rescale``) and ``scores`` [R, C].
        """
        rec = self.forward_rois(x, rpn_results_list)
        results = []
        for boxes, s, sample in zip(rec.proposals, rec.scores,
                                    batch_data_samples):
            if rescale and 'scale_factor' in sample.metainfo:
                boxes = scale_boxes(
                    boxes, [1 / f for f in sample.metainfo['scale_factor']])
            results.append(InstanceData(bboxes=boxes, scores=s))
        return results

    def predict(self,
                x: Tuple[Tensor],
                rpn_results_list: InstanceList,
                batch_data_samples: SampleList,
                rescale: bool = False) -> InstanceList:
        """Per-class NMS over the proposal scores.

        Returns:
            list[InstanceData]: per image ``bboxes`` [K, 4], ``scores`` [K],
            ``labels`` [K].
        """
        raw = self.predict_proposal_scores(x, rpn_results_list,
                                           batch_data_samples, rescale)
        return [nms_instances(r, self.test_cfg) for r in raw]
