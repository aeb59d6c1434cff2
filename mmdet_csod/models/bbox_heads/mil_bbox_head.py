"""Multiple-instance recognition head: WSDDN streams + OICR refinement."""
from typing import Dict, List, Optional, Sequence

import torch
from mmdet.registry import MODELS, TASK_UTILS
from mmengine.model import BaseModule
from torch import Tensor, nn

from ..losses.unknown_classes import merge_unknown_probs
from ..task_modules import BaseRefineTargets
from ..task_modules.refine_targets import image_indices


def softmax_per_image(logits: Tensor, num_per_img: Sequence[int]) -> Tensor:
    """Softmax over the proposals of each image, column by column.

    Args:
        logits (Tensor): [N, C], the proposals of all images, image by image.
        num_per_img (Sequence[int]): proposals per image, summing to N.

    Returns:
        Tensor: [N, C].
    """
    return torch.cat(
        [chunk.softmax(dim=0) for chunk in logits.split(list(num_per_img))])


@MODELS.register_module()
class MILBBoxHead(BaseModule):
    """WSDDN (Bilen & Vedaldi 2016) with K online refinement branches.

    - WSDDN: two fc streams on the proposal features, ``x_c`` softmaxed over
      classes and ``x_d`` over the proposals of the image; proposal scores
      ``x_R = softmax_c(x_c) * softmax_r(x_d)`` [N, C]; image scores
      ``phi_c = sum_r x_R`` trained with a binary cross-entropy against the
      image labels (:class:`MILLoss`).
    - Refinement (OICR, Tang et al. 2017): K branches with C + 1 outputs
      (background last), softmaxed over classes. Branch k is supervised by
      targets made from branch k-1's scores (from ``x_R`` for k = 1) by the
      ``refine_targets`` generator, with the loss that generator owns:
      :class:`OICRTargets` (top-proposal pseudo-labels, weighted
      cross-entropy) or :class:`PCLTargets` (proposal clusters, PCL's
      cluster loss, Tang et al. 2018).
    - Proposal scores at inference: the mean of the refinement branches'
      foreground probabilities (OICR / PCL), or ``x_R`` when K = 0 (WSDDN).
    - Unknown classes (``image_label_weights`` of :meth:`loss`, 0 for a
      class unknown in an image, which may or may not show it): the
      scores are those of every class, the losses say nothing about the
      unknown one. Its MIL term has weight 0 (``phi`` of a present class
      still competes with it in ``softmax_c``: a proposal that is the
      present class is not the unknown one), and the refinement losses
      merge the unknown classes into background
      (:mod:`mmdet_csod.models.losses.unknown_classes`): a background
      proposal may be the unknown class, a proposal of a known class is
      no other. No target is ever the unknown class (see
      :mod:`mmdet_csod.models.task_modules.refine_targets`).

    Args:
        in_channels (int): Proposal feature size D.
        num_classes (int): Number of classes C the head learns.
        num_refine (int): Refinement branches K (0: WSDDN, 3: OICR / PCL;
            the CSOD paper's lighter head uses fewer).
        refine_targets (dict): Config of the refinement target generator
            (mmdet's TASK_UTILS), which brings its loss: e.g.
            ``dict(type='OICRTargets', iou_thr=0.5, weight_mode='iou',
            ignore_iou_thr=0.1)`` or ``dict(type='PCLTargets')``; a
            ``loss_refine`` key in it overrides the generator's loss.
        loss_mil (dict): Image-level loss config.
        refine_loss_weights (Sequence[float], optional): K factors, one per
            refinement branch, multiplying ``loss_refine{k}`` (wetectron
            weighs the first branch 3, the others 1); None: all 1.
    """

    def __init__(
        self,
        in_channels: int = 4096,
        num_classes: int = 20,
        num_refine: int = 3,
        refine_targets: dict = dict(
            type='OICRTargets', iou_thr=0.5, weight_mode='seed_score'),
        loss_mil: dict = dict(type='MILLoss'),
        refine_loss_weights: Optional[Sequence[float]] = None,
        init_cfg=dict(type='Normal', std=0.01, layer='Linear', bias=0.)
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.num_refine = num_refine
        if refine_loss_weights is not None:
            refine_loss_weights = tuple(float(w) for w in refine_loss_weights)
            if len(refine_loss_weights) != num_refine:
                raise ValueError(
                    f'refine_loss_weights has {len(refine_loss_weights)} '
                    f'values for num_refine={num_refine} branches')
        self.refine_loss_weights = refine_loss_weights
        self.fc_cls = nn.Linear(in_channels, num_classes)
        self.fc_det = nn.Linear(in_channels, num_classes)
        self.fc_refine = nn.ModuleList(
            nn.Linear(in_channels, num_classes + 1) for _ in range(num_refine))
        self.loss_mil = MODELS.build(loss_mil)
        self.refine_targets = build_refine_targets(refine_targets)

    def forward(self, feats: Tensor,
                num_per_img: Sequence[int]) -> Dict[str, object]:
        """Scores of every proposal.

        Args:
            feats (Tensor): [N, D] features of the proposals of all images.
            num_per_img (Sequence[int]): proposals per image.

        Returns:
            dict: ``mil_scores`` [N, C] (WSDDN's ``x_R``),
            ``refine_probs``, a list of K tensors [N, C + 1], and the
            WSDDN streams: ``cls_logits`` [N, C] (``x_c``) and
            ``det_probs`` [N, C] (``softmax_r(x_d)``).
        """
        cls_logits = self.fc_cls(feats)
        det_prob = softmax_per_image(self.fc_det(feats), num_per_img)
        return dict(
            mil_scores=cls_logits.softmax(dim=1) * det_prob,
            refine_probs=[fc(feats).softmax(dim=1) for fc in self.fc_refine],
            cls_logits=cls_logits,
            det_probs=det_prob)

    def proposal_scores(self, outs: Dict[str, object]) -> Tensor:
        """[N, C] class scores of each proposal used for detection."""
        if self.num_refine == 0:
            return outs['mil_scores']
        return torch.stack([p[:, :-1] for p in outs['refine_probs']]).mean(0)

    def image_scores(self, mil_scores: Tensor,
                     num_per_img: Sequence[int]) -> Tensor:
        """[B, C] image scores ``phi``: proposal scores summed per image."""
        return torch.stack(
            [s.sum(0) for s in mil_scores.split(list(num_per_img))])

    def loss(self,
             outs: Dict[str, object],
             proposals: List[Tensor],
             image_labels: Tensor,
             gt_instances: Optional[List] = None,
             image_label_weights: Optional[Tensor] = None
             ) -> Dict[str, Tensor]:
        """The image-level loss and one loss per refinement branch.

        Args:
            outs (dict): :meth:`forward`'s output.
            proposals (list[Tensor]): per image [R_i, 4] boxes of the rows.
            image_labels (Tensor): [B, C] multi-hot labels of the classes
                this head learns.
            gt_instances (list[InstanceData], optional): per image the
                known boxes, ``bboxes`` [G_i, 4] and ``labels`` [G_i] in
                this head's classes: the OICR refinement then seeds those
                classes with their boxes (see :func:`oicr_pseudo_labels`).
            image_label_weights (Tensor, optional): [B, C], 0 for a class
                unknown in the image, 1 for a known one (present or
                absent): no loss of that image says anything about the
                unknown ones (see the class docstring). None: every class is
                known, and the losses are exactly those without it.

        Returns:
            dict: ``loss_mil`` and ``loss_refine{k}`` for k < K (times
            ``refine_loss_weights[k]`` when given).
        """
        num_per_img = [len(p) for p in proposals]
        weights = image_label_weights
        mil_scores = outs['mil_scores']
        phi = self.image_scores(mil_scores, num_per_img)
        if weights is None:
            loss_mil = self.loss_mil(phi, image_labels)
        else:
            if weights.shape != image_labels.shape:
                raise ValueError(
                    f'image_label_weights {tuple(weights.shape)} do not '
                    f'match image_labels {tuple(image_labels.shape)}')
            img_inds = image_indices(proposals, weights.device)
            loss_mil = self.loss_mil(phi, image_labels, weights)
        losses = dict(loss_mil=loss_mil)
        prev = mil_scores
        for k, probs in enumerate(outs['refine_probs']):
            targets = self.refine_targets(
                proposals,
                prev,
                image_labels,
                gt_instances,
                image_label_weights=weights)
            loss = self.refine_targets.loss(probs, targets)
            if self.refine_loss_weights is not None:
                loss = self.refine_loss_weights[k] * loss
            losses[f'loss_refine{k}'] = loss
            # the next branch's seeds: known classes only (an unknown
            # column 0, never a seed)
            prev = probs[:, :-1] if weights is None else merge_unknown_probs(
                probs, weights, img_inds)[:, :-1]
        return losses


def build_refine_targets(cfg) -> BaseRefineTargets:
    """A refinement target generator from its TASK_UTILS config."""
    if isinstance(cfg, BaseRefineTargets):
        return cfg
    if not isinstance(cfg, dict):
        raise TypeError(
            "refine_targets is a target generator config of mmdet's "
            "TASK_UTILS, e.g. dict(type='OICRTargets') or "
            f"dict(type='PCLTargets'), got {cfg!r}")
    targets = TASK_UTILS.build(cfg)
    if not isinstance(targets, BaseRefineTargets):
        raise TypeError(f'refine_targets built a {type(targets).__name__}, '
                        'not a BaseRefineTargets')
    return targets
