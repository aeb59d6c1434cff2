"""What a DRN's SCM and pseudo boxes are made from: one stream of the
recognition head's proposal scores."""
from typing import List, Optional

from torch import Tensor

from ..roi_heads.mil_roi_head import RecOutputs

#: ``refined``: the mean of the refinement branches (the recognition head's
#: proposal scores, the paper); ``mil``: the MIL stream's (WSDDN's) scores.
EVIDENCE_STREAMS = ('refined', 'mil')


class DRNEvidenceMixin:
    """``scm_evidence`` of :class:`DRN`: which stream of the recognition
    head the SCM (base and novel queries alike) and the pseudo boxes are
    made from."""

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

    def evidence_scores(self, rec: RecOutputs) -> List[Tensor]:
        """Per image [R_i, C_rec] detached scores of the ``scm_evidence``
        stream of ``rec`` (:meth:`MILRoIHead.forward_rois`'s outputs).

        ``'mil'`` reads the MIL stream (:meth:`mil_stream_scores`), which
        learns from the image labels alone, base and novel classes the same
        way, whatever seeds the refinement branches take.
        """
        if self.scm_evidence == 'refined':
            return [s.detach() for s in rec.scores]
        mil = self.mil_stream_scores(rec)
        if mil is None:
            raise KeyError("scm_evidence='mil' needs a recognition head "
                           "whose outputs hold 'mil_scores' (a MIL stream)")
        return [s.detach() for s in mil]
