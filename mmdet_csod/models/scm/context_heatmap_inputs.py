"""SCM inputs with a context channel: where the image's other objects are.

The paper's heatmap is class-agnostic and shows one class's confident
boxes. Where an object of that class rides on or touches another object,
the heatmap's mass spills onto the carrier and nothing in it says where
the carrier is. :class:`ContextHeatmapInputs` adds channels painted from
the confident boxes of the *other* classes with evidence in the query's
image (:func:`context_selection`), so the SCM's detector, trained on base
classes, can learn to stop a box where another object's heat begins.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from mmdet.registry import TASK_UTILS
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from ..utils.heatmap import HEATMAP_MODES
from .scm_inputs import HeatmapInputs, QueryHeatmaps


def context_selection(select: Callable, proposals: List[Tensor],
                      scores: List[Tensor], queries: Tensor) -> InstanceList:
    """The confident proposals of the other classes of each query's image.

    A class has evidence in an image when one of its scores there is above
    0: the caller zeroes the columns of classes absent from an image (the
    DRN does, for inputs with ``needs_context``). Each other class's boxes
    are selected by ``select`` (the SCM's rule, all (image, class) pairs in
    one call) and their scores divided by that class's top score, so that
    every other object weighs alike, whatever its class's score scale.

    Args:
        select (Callable): ``select(proposals, scores, queries)``, e.g.
            :meth:`SpatialCorrelationModule.select`.
        proposals (list[Tensor]): Per image [R_i, 4], image pixels.
        scores (list[Tensor]): Per image [R_i, C].
        queries (Tensor): [Q, 2] (image index, class column).

    Returns:
        list[InstanceData]: Q items, ``bboxes`` [m_q, 4] (image pixels) and
        ``scores`` [m_q] in (0, 1]; m_q = 0 when the query's class is the
        only one with evidence in its image.
    """
    queries = torch.as_tensor(queries).reshape(-1, 2)
    if not len(queries):
        return []
    device = scores[0].device
    # [B, C]: a score above 0 somewhere in the image (zero padding)
    has = pad_sequence([s.detach() for s in scores],
                       batch_first=True).amax(dim=1) > 0
    img_ids, cols = queries.to(device).long().unbind(1)
    others = has[img_ids]  # [Q, C], a copy
    others[torch.arange(len(queries), device=device), cols] = False
    q_idx, c_idx = others.nonzero(as_tuple=True)  # grouped by query
    pairs = torch.stack([img_ids[q_idx], c_idx], dim=1)
    picked = select(proposals, scores, pairs)
    counts = others.sum(dim=1).tolist()  # the one host sync
    empty = proposals[0].new_zeros((0, 4)) if proposals else \
        scores[0].new_zeros((0, 4))
    out, start = [], 0
    for n in counts:  # the queries only
        items = [p for p in picked[start:start + n] if len(p)]
        start += n
        if not items:
            out.append(InstanceData(bboxes=empty,
                                    scores=empty.new_zeros((0, ))))
            continue
        out.append(InstanceData(
            bboxes=torch.cat([p.bboxes for p in items]),
            scores=torch.cat(
                [p.scores / p.scores[:1].clamp(min=1e-12) for p in items])))
    return out


@TASK_UTILS.register_module()
class ContextHeatmapInputs(HeatmapInputs):
    """:class:`HeatmapInputs` plus context channels: the other classes.

    Channels ``modes`` (the query's heatmap, as :class:`HeatmapInputs`)
    followed by ``context_modes`` painted from the query's ``context``
    (:func:`context_selection`: the confident boxes of the other classes
    with evidence in its image, scores relative to each class's top), each
    channel normalized by its maximum with ``normalize``. Base and novel
    queries get their context alike, so the detector learns on base
    classes what it is applied to. Beyond the paper.

    Args:
        modes (Sequence[str]): The query's channels ('max', 'sum', 'num').
        context_modes (Sequence[str]): The context's channels.
        normalize (bool): Divide each channel by its maximum.
    """

    needs_context = True

    def __init__(self,
                 modes: Sequence[str] = ('max', 'sum'),
                 context_modes: Sequence[str] = ('max', ),
                 normalize: bool = True) -> None:
        super().__init__(modes=modes, normalize=normalize)
        context_modes = tuple(context_modes)
        if not context_modes or any(m not in HEATMAP_MODES
                                    for m in context_modes):
            raise ValueError(f'context_modes must be a non-empty sequence '
                             f'of {HEATMAP_MODES}, got {context_modes}')
        self.context_modes = context_modes

    @property
    def num_channels(self) -> int:
        """The detector's ``in_channels`` (:meth:`adapt_detector`)."""
        return len(self.modes) + len(self.context_modes)

    def __call__(self,
                 queries: Tensor,
                 selected: InstanceList,
                 sizes: Sequence[Tuple[int, int]],
                 stride: float,
                 like: Tensor,
                 feats: Optional[Tensor] = None,
                 context: Optional[InstanceList] = None) -> QueryHeatmaps:
        """The batch of the queries (arguments of :class:`HeatmapInputs`);
        ``context``: Q items of boxes (image pixels) and scores, as
        :func:`context_selection` gives them. The heatmaps are [Q,
        len(modes) + len(context_modes), Hmax, Wmax]."""
        if context is None or len(context) != len(sizes):
            raise ValueError(
                f'ContextHeatmapInputs needs a context for each of the '
                f'{len(sizes)} queries, got '
                f'{None if context is None else len(context)}')
        batch = super().__call__(queries, selected, sizes, stride, like)
        ctx = self.paint([
            InstanceData(bboxes=c.bboxes / stride, scores=c.scores)
            for c in context
        ], sizes, self.context_modes, batch.heatmaps)
        batch.heatmaps = torch.cat([batch.heatmaps, ctx], dim=1)
        batch.modes = self.modes + tuple(f'context_{m}'
                                         for m in self.context_modes)
        return batch
