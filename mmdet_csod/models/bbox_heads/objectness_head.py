"""Class-agnostic objectness of proposals, learnt from the base boxes."""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps
from mmengine.model import BaseModule
from torch import Tensor, nn


@MODELS.register_module()
class ObjectnessHead(BaseModule):
    """Whether a proposal boxes a whole object, whatever its class.

    The base classes' boxes say what a whole object looks like; a
    recognition head trained from image labels says where the evidence of
    a class is, which is often a part of its object or a part of the
    object beside it. This head learns the first from the base boxes and
    scores every proposal with it, so that the novel classes' boxes can be
    chosen among whole objects (the knowledge transfer of Uijlings et al.,
    CVPR 2018, and Zhong et al., ECCV 2020, on the DRN's shared features).

    Targets (:meth:`get_targets`), per proposal:

    - positive: IoU >= ``pos_iou_thr`` with a base box of its image;
    - negative, in an image where no novel class is present or unknown
      (every object there is boxed): IoU < ``neg_iou_thr`` with every box;
    - negative, in every image, with ``part_negatives``: a *part* of a
      boxed object, at least ``part_iof_thr`` of the proposal inside a
      base box and IoU < ``neg_iou_thr`` with every box (a part of a
      labelled object is no object of its own);
    - else ignored: elsewhere in an image with a novel class, a proposal
      may be the unboxed novel object.

    The loss (:meth:`loss`) is the binary cross-entropy of the positives'
    mean plus that of the negatives' mean (each set weighs the same
    whatever its size), named ``loss_obj``.

    Args:
        in_channels (int): Proposal feature size D (the shared fc's).
        pos_iou_thr (float): Defaults to 0.5.
        neg_iou_thr (float): Defaults to 0.5.
        part_negatives (bool): Defaults to True.
        part_iof_thr (float): Defaults to 0.8.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 pos_iou_thr: float = 0.5,
                 neg_iou_thr: float = 0.5,
                 part_negatives: bool = True,
                 part_iof_thr: float = 0.8,
                 init_cfg=dict(
                     type='Normal', std=0.01, override=dict(name='fc_obj'))
                 ) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0 < neg_iou_thr <= pos_iou_thr <= 1:
            raise ValueError('need 0 < neg_iou_thr <= pos_iou_thr <= 1, got '
                             f'{neg_iou_thr}, {pos_iou_thr}')
        self.pos_iou_thr = pos_iou_thr
        self.neg_iou_thr = neg_iou_thr
        self.part_negatives = part_negatives
        self.part_iof_thr = part_iof_thr
        self.fc_obj = nn.Linear(in_channels, 1)

    def forward(self, feats: Tensor) -> Tensor:
        """Logits [N] of proposal features [N, D]."""
        return self.fc_obj(feats).squeeze(-1)

    @staticmethod
    def scores(logits: Tensor) -> Tensor:
        """Objectness in [0, 1], [N], detached."""
        return logits.detach().sigmoid()

    @torch.no_grad()
    def get_targets(self, proposals: Sequence[Tensor],
                    base_boxes: Sequence[Tensor],
                    all_boxed: Sequence[bool]) -> Tuple[Tensor, Tensor]:
        """Targets of the proposals of a batch.

        Args:
            proposals (Sequence[Tensor]): Per image [R_i, 4].
            base_boxes (Sequence[Tensor]): Per image [G_i, 4], the base
                classes' ground truth (never a novel box).
            all_boxed (Sequence[bool]): Per image, whether every object in
                it is boxed (no novel class present or unknown).

        Returns:
            tuple: ``labels`` [N] float (1 object, 0 not) and ``kind`` [N]
            long (1 positive, 0 negative, -1 ignored), N = sum R_i.
        """
        labels, kinds = [], []
        for props, gt, clean in zip(proposals, base_boxes, all_boxed):
            kind = props.new_full((len(props), ), -1, dtype=torch.long)
            if len(gt):
                gt = gt.to(props)
                iou = bbox_overlaps(props, gt)
                max_iou = iou.amax(dim=1)
                if self.part_negatives:
                    iof = bbox_overlaps(props, gt, mode='iof').amax(dim=1)
                    kind[(iof >= self.part_iof_thr)
                         & (max_iou < self.neg_iou_thr)] = 0
            else:
                max_iou = props.new_zeros((len(props), ))
            if clean:
                kind[max_iou < self.neg_iou_thr] = 0
            if len(gt):
                kind[max_iou >= self.pos_iou_thr] = 1
            kinds.append(kind)
            labels.append((kind == 1).float())
        return torch.cat(labels), torch.cat(kinds)

    def loss(self, logits: Tensor, proposals: Sequence[Tensor],
             base_boxes: Sequence[Tensor],
             all_boxed: Sequence[bool]) -> dict:
        """``loss_obj`` (and ``obj_pos`` / ``obj_neg``, the numbers of
        positives and negatives, for the log) of logits [N] over the
        proposals of :meth:`get_targets`'s arguments."""
        labels, kind = self.get_targets(proposals, base_boxes, all_boxed)
        bce = F.binary_cross_entropy_with_logits(
            logits, labels, reduction='none')
        loss = logits.sum() * 0
        pos, neg = kind == 1, kind == 0
        for sel in (pos, neg):
            # a mean over a set; an empty set adds nothing
            loss = loss + (bce * sel).sum() / sel.sum().clamp(min=1)
        return dict(
            loss_obj=loss,
            obj_pos=pos.sum().float(),
            obj_neg=neg.sum().float())

    @staticmethod
    def weigh(scores: List[Tensor], objectness: Tensor) -> List[Tensor]:
        """Class scores times objectness: per image [R_i, C] and [N]
        (N = sum R_i) -> per image [R_i, C]."""
        parts = objectness.split([len(s) for s in scores])
        return [s * o[:, None].to(s) for s, o in zip(scores, parts)]
