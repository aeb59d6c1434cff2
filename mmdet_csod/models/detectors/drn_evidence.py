"""What a DRN's SCM and pseudo boxes are made from: one stream of the
recognition head's proposal scores, optionally weighed against the other
classes of the image."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from ..roi_heads.mil_roi_head import RecOutputs

#: ``refined``: the mean of the refinement branches (the recognition head's
#: proposal scores, the paper); ``mil``: the MIL stream's (WSDDN's) scores.
EVIDENCE_STREAMS = ('refined', 'mil')


class DRNEvidenceMixin:
    """``scm_evidence`` and ``exclusive_evidence`` of :class:`DRN`: which
    stream of the recognition head the SCM (base and novel queries alike)
    and the pseudo boxes are made from, and whether each class's scores are
    weighed against the image's other classes (:meth:`exclusive_scores`)."""

    @staticmethod
    def mil_stream_scores(rec: RecOutputs) -> Optional[List[Tensor]]:
        """Per image [R_i, C_rec] scores of the MIL stream of ``rec``
        (:meth:`MILRoIHead.forward_rois`'s outputs: ``outs['mil_scores']``
        [sum R_i, C_rec]), not detached; None when the recognition head
        has no MIL stream."""
        mil = rec.outs.get('mil_scores') if isinstance(rec.outs,
                                                       dict) else None
        if mil is None:
            return None
        return list(mil.split([len(p) for p in rec.proposals]))

    def evidence_scores(self, rec: RecOutputs,
                        image_labels: Optional[Tensor] = None
                        ) -> List[Tensor]:
        """Per image [R_i, C_rec] detached scores of the ``scm_evidence``
        stream of ``rec`` (:meth:`MILRoIHead.forward_rois`'s outputs),
        with ``exclusive_evidence`` weighed by :meth:`exclusive_scores`
        (``image_labels`` [B, C] over all classes, then required).

        ``'mil'`` reads the MIL stream (:meth:`mil_stream_scores`), which
        learns from the image labels alone, base and novel classes the same
        way, whatever seeds the refinement branches take.

        With SCM inputs that read the other classes of an image
        (``needs_context``, e.g. :class:`ContextHeatmapInputs`) the
        columns of classes absent from an image are 0 there: a class has
        evidence in an image only when it is labelled present.
        """
        if self.scm_evidence == 'refined':
            scores = [s.detach() for s in rec.scores]
        else:
            mil = self.mil_stream_scores(rec)
            if mil is None:
                raise KeyError(
                    "scm_evidence='mil' needs a recognition head whose "
                    "outputs hold 'mil_scores' (a MIL stream)")
            scores = [s.detach() for s in mil]
        context = self.scm is not None and self.scm.inputs.needs_context
        if (self.exclusive_evidence or context) and image_labels is None:
            raise ValueError('exclusive_evidence and SCM inputs with a '
                             'context need the image labels')
        if self.exclusive_evidence:
            scores = self.exclusive_scores(scores, image_labels)
        if context:
            scores = self.present_columns_only(scores, image_labels)
        return scores

    def present_columns_only(self, scores: List[Tensor],
                             image_labels: Tensor) -> List[Tensor]:
        """Per image [R_i, C_rec] ``scores`` with the columns of classes
        absent from the image (``image_labels`` [B, C] over all classes,
        mapped by ``rec_label_map``) set to 0; one batched op."""
        if not scores:
            return []
        flat, rows = self.present_rows(scores, image_labels)
        return list(flat.masked_fill(~rows, 0).split([len(s) for s in scores]))

    def present_rows(self, scores: List[Tensor],
                     image_labels: Tensor) -> Tuple[Tensor, Tensor]:
        """The images' ``scores`` (per image [R_i, C_rec], at least one
        image) as one [sum R_i, C_rec] tensor, and beside it a bool mask of
        the same shape: whether each column's class is present in that
        row's image (``image_labels`` [B, C] over all classes, > 0)."""
        cols = torch.as_tensor(self.rec_label_map, dtype=torch.long,
                               device=image_labels.device)
        present = image_labels[:, cols] > 0  # [B, C_rec]
        flat = torch.cat(scores)  # [sum R_i, C_rec]
        rows = present.to(flat.device).repeat_interleave(
            torch.tensor([len(s) for s in scores], device=flat.device),
            dim=0)
        return flat, rows

    def exclusive_scores(self, scores: List[Tensor],
                         image_labels: Tensor) -> List[Tensor]:
        """Each present class's score of a proposal weighed by how it
        compares with the strongest present class on that proposal.

        A region is one object: where another class of the image scores a
        proposal higher (the carrier under a rider, the dog under a bird),
        that proposal is weak evidence of this class. For each proposal
        ``r`` and class ``c`` present in its image, ``s'[r, c] =
        s[r, c] ** 2 / max_{c' present} s[r, c']``: unchanged where ``c``
        is the strongest, scaled by ``s[r, c] / max`` elsewhere. The
        columns of absent classes stay as they are. Base and novel classes
        alike, so that the SCM learns on heatmaps made as those it is
        applied to. One batched op over the images' proposals.

        Args:
            scores (list[Tensor]): Per image [R_i, C_rec], non-negative.
            image_labels (Tensor): [B, C] over all classes (> 0: present).

        Returns:
            list[Tensor]: Per image [R_i, C_rec], new tensors.
        """
        if not scores:
            return []
        flat, rows = self.present_rows(scores, image_labels)
        top = (flat * rows).amax(dim=1, keepdim=True)
        weighed = flat * flat / top.clamp_min(torch.finfo(flat.dtype).tiny)
        return list(torch.where(rows, weighed, flat).split(
            [len(s) for s in scores]))
