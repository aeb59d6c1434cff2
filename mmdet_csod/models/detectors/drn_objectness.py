"""A DRN's objectness of proposals: learnt from the base boxes, it weighs
the recognition scores that the novel classes' boxes are made from."""
from typing import List, Optional

import torch
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor


class DRNObjectnessMixin:
    """``objectness_head`` (an :class:`ObjectnessHead`, or None) of
    :class:`DRN`: its logits, its loss and the scores it weighs; every
    input comes in as an argument, every result goes out as a return
    value."""

    def objectness_logits(self, feats: Tensor) -> Optional[Tensor]:
        """Logits [N] of the shared fc features [N, D] of the proposals,
        None without an objectness head."""
        if getattr(self, 'objectness_head', None) is None:
            return None
        return self.objectness_head(feats)

    def weigh_by_objectness(self, rec_scores: List[Tensor],
                            logits: Optional[Tensor]) -> List[Tensor]:
        """The recognition scores (per image [R_i, C_rec], detached) times
        the proposals' objectness (``logits`` [N], N = sum R_i; None: the
        scores as they are). What the SCM (base and novel queries alike),
        the pseudo boxes and the unlabelled proposals are made from."""
        if logits is None:
            return rec_scores
        return self.objectness_head.weigh(
            rec_scores, self.objectness_head.scores(logits))

    def objectness_loss(self, logits: Tensor, proposals: List[Tensor],
                        batch_data_samples: SampleList,
                        image_labels: Tensor,
                        label_weights: Optional[Tensor]) -> dict:
        """The objectness head's loss on a batch: positives at the base
        boxes (``gt_instances``, base classes only: see
        :meth:`DRN._check_no_novel_boxes`), negatives elsewhere only in the
        images where every object is boxed (no novel class present, none
        unknown) and, with its ``part_negatives``, on parts of base
        objects.

        Args:
            logits (Tensor): [N] of :meth:`objectness_logits`.
            proposals (list[Tensor]): Per image [R_i, 4].
            batch_data_samples (list[DetDataSample]): The batch.
            image_labels (Tensor): [B, C] over all classes.
            label_weights (Tensor, optional): [B, C], 0 for a class unknown
                in an image.
        """
        novel = torch.tensor(self.novel_labels, dtype=torch.long,
                             device=image_labels.device)
        all_boxed = (image_labels[:, novel] <= 0).all(dim=1)
        if label_weights is not None:
            all_boxed &= (label_weights[:, novel].to(all_boxed.device) >
                          0).all(dim=1)
        base_boxes = [
            get_box_tensor(s.gt_instances.bboxes)
            if 'bboxes' in s.gt_instances else p.new_zeros((0, 4))
            for s, p in zip(batch_data_samples, proposals)
        ]
        return self.objectness_head.loss(logits, proposals, base_boxes,
                                         all_boxed.tolist())
