"""Refinement targets of the MIL head (OICR, PCL), each with its loss.

A target generator turns the previous stage's proposal scores into the
targets of a refinement branch and owns the loss those targets go with, so
a config picks a refinement scheme with one field of :class:`MILBBoxHead`::

    refine_targets=dict(type='OICRTargets', iou_thr=0.5, weight_mode='iou')
    refine_targets=dict(type='PCLTargets', graph_iou_thr=0.4)

Every generator returns a typed result (a dataclass whose fields are the
keyword arguments of its loss) and checks when it is built that its loss
takes them.

Unknown classes (``image_label_weights`` [B, C], 0 for a class unknown in
an image): such a class is not present, so it seeds nothing; the targets
carry the weights, and the loss merges the image's unknown classes into
its background column (:mod:`mmdet_csod.models.losses.unknown_classes`):
a background proposal (which may be an unknown object) is not pushed away
from the unknown classes, a proposal of a known class is pushed away from
every other class, unknown ones included.
"""
import inspect
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, fields
from typing import Dict, List, Optional

import torch
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.utils import InstanceList
from torch import Tensor, nn

from ..utils import oicr_pseudo_labels
from ..utils.pcl_clusters import pcl_targets
from ..utils.pseudo_labels import WEIGHT_MODES


@dataclass
class ProposalTargets:
    """Per-proposal targets of a batch (OICR): N = sum R_i proposals.

    Attributes:
        labels (Tensor): [N] long in 0..C (C: background).
        weights (Tensor): [N] float loss weight of each proposal.
        img_inds (Tensor): [N] long image index of each proposal.
        num_imgs (int): Images B of the batch.
        image_label_weights (Tensor, optional): [B, C] float, 0 for a class
            unknown in the image; None: every class known.
    """
    labels: Tensor
    weights: Tensor
    img_inds: Tensor
    num_imgs: int
    image_label_weights: Optional[Tensor] = None


@dataclass
class ClusterTargets:
    """Proposal-cluster targets of a batch (PCL): N proposals, M clusters.

    Attributes:
        labels (Tensor): [N] long in 0..C (C: background or ignored).
        weights (Tensor): [N] float, the weight of a background proposal
            (0 for an ignored one).
        cluster_ids (Tensor): [N] long cluster of each proposal in
            0..M-1 (over the batch), -1 for background and ignored ones.
        cluster_labels (Tensor): [M] long class of each cluster.
        cluster_scores (Tensor): [M] float score of each cluster.
        cluster_sizes (Tensor): [M] long members of each cluster.
        img_inds (Tensor): [N] long image index of each proposal.
        num_imgs (int): Images B of the batch.
        image_label_weights (Tensor, optional): [B, C] float, 0 for a class
            unknown in the image; None: every class known.
    """
    labels: Tensor
    weights: Tensor
    cluster_ids: Tensor
    cluster_labels: Tensor
    cluster_scores: Tensor
    cluster_sizes: Tensor
    img_inds: Tensor
    num_imgs: int
    image_label_weights: Optional[Tensor] = None


def loss_inputs(targets) -> Dict[str, object]:
    """The fields of a target dataclass by name (no copy of the tensors)."""
    return {f.name: getattr(targets, f.name) for f in fields(targets)}


def _known_present(image_labels: Tensor,
                   image_label_weights: Optional[Tensor]) -> Tensor:
    """[B, C] image labels with the unknown classes (weight 0) absent."""
    if image_label_weights is None:
        return image_labels
    return image_labels * (image_label_weights > 0).to(image_labels.dtype)


def image_indices(proposals: List[Tensor], device) -> Tensor:
    """[sum R_i] long image index of each row of the batch's proposals."""
    counts = torch.tensor([len(p) for p in proposals], device=device)
    return torch.repeat_interleave(
        torch.arange(len(proposals), device=device), counts)


class BaseRefineTargets(nn.Module, metaclass=ABCMeta):
    """A refinement target generator paired with its loss.

    Subclasses set ``result_type`` (the dataclass that :meth:`forward`
    returns; its fields are keyword arguments of the loss, after the
    probabilities) and ``default_loss`` (the loss config used when
    ``loss_refine`` is not given), and implement :meth:`forward`. The loss
    is a submodule (it moves with the head), built and checked against
    ``result_type`` here.

    Args:
        loss_refine (dict, optional): Config of the loss (mmdet's MODELS),
            e.g. to change its ``loss_weight``. Default: ``default_loss``.
    """

    result_type: type
    default_loss: dict

    def __init__(self, loss_refine: Optional[dict] = None) -> None:
        super().__init__()
        cfg = dict(self.default_loss if loss_refine is None else loss_refine)
        self.loss_refine = MODELS.build(cfg)
        names = [f.name for f in fields(self.result_type)]
        try:
            inspect.signature(self.loss_refine.forward).bind(
                None, **dict.fromkeys(names))
        except TypeError as err:
            raise TypeError(
                f'{type(self).__name__} gives {self.result_type.__name__} '
                f'({", ".join(names)}), which loss_refine '
                f'{type(self.loss_refine).__name__} does not take: {err}; '
                f'its loss is {self.default_loss}') from None

    @abstractmethod
    def forward(self,
                proposals: List[Tensor],
                scores: Tensor,
                image_labels: Tensor,
                gt_instances: Optional[InstanceList] = None,
                image_label_weights: Optional[Tensor] = None):
        """Targets of a refinement branch from the previous scores.

        Args:
            proposals (list[Tensor]): Per image [R_i, 4] boxes.
            scores (Tensor): [N, C] previous scores (no background column)
                of the batch's proposals, image by image (N = sum R_i); not
                differentiated through.
            image_labels (Tensor): [B, C] multi-hot image labels.
            gt_instances (list[InstanceData], optional): Per image known
                boxes (``bboxes`` [G_i, 4], ``labels`` [G_i]) as seeds.
            image_label_weights (Tensor, optional): [B, C], 0 for a class
                unknown in the image: never a seed (a label of weight 0
                counts as not present), and merged into background by the
                loss for that image. None: every class known.

        Returns:
            ``result_type``: the targets of the batch.
        """

    def loss(self, probs: Tensor, targets) -> Tensor:
        """The refinement loss of a branch.

        Args:
            probs (Tensor): [N, C + 1] the branch's softmax probabilities
                (background last).
            targets: What :meth:`forward` returned for the batch.

        Returns:
            Tensor: scalar loss.
        """
        if not isinstance(targets, self.result_type):
            raise TypeError(f'{type(self).__name__}.loss takes '
                            f'{self.result_type.__name__}, got '
                            f'{type(targets).__name__}')
        return self.loss_refine(probs, **loss_inputs(targets))

    def _split(self,
               proposals: List[Tensor],
               scores: Tensor,
               image_labels: Tensor,
               image_label_weights: Optional[Tensor] = None) -> List[Tensor]:
        """Per image [R_i, C] detached scores; checks the batch sizes."""
        if len(proposals) != len(image_labels):
            raise ValueError(f'{len(proposals)} proposal sets for '
                             f'{len(image_labels)} label rows')
        if image_label_weights is not None and \
                image_label_weights.shape != image_labels.shape:
            raise ValueError(
                f'image_label_weights {tuple(image_label_weights.shape)} do '
                f'not match image_labels {tuple(image_labels.shape)}')
        counts = [len(p) for p in proposals]
        if scores.shape[0] != sum(counts):
            raise ValueError(f'scores have {scores.shape[0]} rows for '
                             f'{sum(counts)} proposals')
        return list(scores.detach().split(counts))


@TASK_UTILS.register_module()
class OICRTargets(BaseRefineTargets):
    """OICR's pseudo-labels (Tang et al., CVPR 2017) and weighted loss.

    Per image, :func:`~mmdet_csod.models.utils.oicr_pseudo_labels`: each
    present class seeds its top-scoring proposal; a proposal takes the class
    of the seed it overlaps most at IoU >= ``iou_thr`` (else background),
    weighted by that seed's score (``weight_mode='seed_score'``) or by the
    IoU (``'iou'``, the CSOD paper). With ``gt_instances`` the known boxes
    are the seeds of their classes. Loss: :class:`WeightedRefineLoss`.

    Args:
        iou_thr (float): IoU at which a proposal takes its seed's class.
        weight_mode (str): 'seed_score' or 'iou'.
        ignore_iou_thr (float, optional): Weight 0 under this max IoU with
            the seeds (pcl.pytorch's OICR: 0.1); None: none ignored.
        loss_refine (dict, optional): Loss config; default
            ``dict(type='WeightedRefineLoss')``.
    """

    result_type = ProposalTargets
    default_loss = dict(type='WeightedRefineLoss')

    def __init__(self,
                 iou_thr: float = 0.5,
                 weight_mode: str = 'seed_score',
                 ignore_iou_thr: Optional[float] = None,
                 loss_refine: Optional[dict] = None) -> None:
        super().__init__(loss_refine)
        if weight_mode not in WEIGHT_MODES:
            raise ValueError(f'weight_mode must be one of {WEIGHT_MODES}, '
                             f'got {weight_mode!r}')
        if ignore_iou_thr is not None and ignore_iou_thr > iou_thr:
            raise ValueError(f'ignore_iou_thr ({ignore_iou_thr}) must be <= '
                             f'iou_thr ({iou_thr})')
        self.iou_thr = iou_thr
        self.weight_mode = weight_mode
        self.ignore_iou_thr = ignore_iou_thr

    def forward(
            self,
            proposals: List[Tensor],
            scores: Tensor,
            image_labels: Tensor,
            gt_instances: Optional[InstanceList] = None,
            image_label_weights: Optional[Tensor] = None) -> ProposalTargets:
        """Labels [N] and weights [N] of the batch (see the base class)."""
        chunks = self._split(proposals, scores, image_labels,
                             image_label_weights)
        image_labels = _known_present(image_labels, image_label_weights)
        gts = gt_instances or [None] * len(proposals)
        per_img = [
            oicr_pseudo_labels(
                p,
                s,
                y,
                iou_thr=self.iou_thr,
                weight_mode=self.weight_mode,
                ignore_iou_thr=self.ignore_iou_thr,
                gt_bboxes=None if g is None else g.bboxes,
                gt_labels=None if g is None else g.labels)
            for p, s, y, g in zip(proposals, chunks, image_labels, gts)
        ]
        if per_img:
            labels = torch.cat([t[0] for t in per_img])
            weights = torch.cat([t[1] for t in per_img])
        else:
            labels = scores.new_zeros((0, ), dtype=torch.long)
            weights = scores.new_zeros((0, ))
        return ProposalTargets(
            labels=labels,
            weights=weights,
            img_inds=image_indices(proposals, scores.device),
            num_imgs=len(proposals),
            image_label_weights=image_label_weights)

    def extra_repr(self) -> str:
        return (f'iou_thr={self.iou_thr}, weight_mode={self.weight_mode!r}, '
                f'ignore_iou_thr={self.ignore_iou_thr}')


@TASK_UTILS.register_module()
class PCLTargets(BaseRefineTargets):
    """PCL's proposal clusters (Tang et al., TPAMI 2018) and cluster loss.

    Per image, :func:`~mmdet_csod.models.utils.pcl_clusters.
    pcl_proposal_clusters` (graph centres among the top-scoring proposals
    of each present class, clusters by IoU with them), concatenated over
    the batch by :func:`~mmdet_csod.models.utils.pcl_clusters.pcl_targets`.
    Loss: :class:`PCLLoss`. Box seeds (``gt_instances``) are not
    implemented.

    Args:
        graph_iou_thr (float): IoU above which two top proposals are
            neighbours in the graph.
        max_centers (int): Most centres (clusters) per class.
        min_remaining (int): Graph nodes left when the search stops.
        top_k_means (int): k of the k-means on the scores.
        fg_iou_thr (float): IoU with a centre to join its cluster.
        bg_iou_thr (float): IoU with the nearest centre under which a
            proposal is ignored.
        loss_refine (dict, optional): Loss config; default
            ``dict(type='PCLLoss')``.
    """

    result_type = ClusterTargets
    default_loss = dict(type='PCLLoss')

    def __init__(self,
                 graph_iou_thr: float = 0.4,
                 max_centers: int = 5,
                 min_remaining: int = 5,
                 top_k_means: int = 3,
                 fg_iou_thr: float = 0.5,
                 bg_iou_thr: float = 0.1,
                 loss_refine: Optional[dict] = None) -> None:
        super().__init__(loss_refine)
        if max_centers < 1:
            raise ValueError(f'max_centers must be >= 1, got {max_centers}')
        self.cluster_cfg = dict(
            graph_iou_thr=graph_iou_thr,
            max_centers=max_centers,
            min_remaining=min_remaining,
            top_k_means=top_k_means,
            fg_iou_thr=fg_iou_thr,
            bg_iou_thr=bg_iou_thr)

    def forward(self,
                proposals: List[Tensor],
                scores: Tensor,
                image_labels: Tensor,
                gt_instances: Optional[InstanceList] = None,
                image_label_weights: Optional[Tensor] = None
                ) -> ClusterTargets:
        """The batch's clusters (see the base class and ClusterTargets)."""
        if gt_instances is not None:
            raise NotImplementedError(
                'box seeds (gt_instances) are implemented by OICRTargets '
                '(oicr_pseudo_labels) only, not by PCLTargets')
        chunks = self._split(proposals, scores, image_labels,
                             image_label_weights)
        image_labels = _known_present(image_labels, image_label_weights)
        (labels, weights, cluster_ids, cluster_labels, cluster_scores,
         cluster_sizes) = pcl_targets(proposals, chunks, image_labels,
                                      **self.cluster_cfg)
        return ClusterTargets(
            labels=labels,
            weights=weights,
            cluster_ids=cluster_ids,
            cluster_labels=cluster_labels,
            cluster_scores=cluster_scores,
            cluster_sizes=cluster_sizes,
            img_inds=image_indices(proposals, scores.device),
            num_imgs=len(proposals),
            image_label_weights=image_label_weights)

    def extra_repr(self) -> str:
        return ', '.join(f'{k}={v}' for k, v in self.cluster_cfg.items())
