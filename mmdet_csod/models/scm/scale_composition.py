"""SCM training queries at other scales: a base query scaled about its object.

The SCM learns on the base classes how a class's confident boxes relate to
its object, and is applied to the novel classes. Its detector regresses
distances in heatmap pixels, so what it learns may be tied to the sizes of
the base objects it was shown: where the novel objects are smaller or
larger than every base class (on the yard scenes bird and cup, median side
41-42 pixels, against 62-88 for the base classes), it may box a novel
heatmap at a base object's size. In isolation it does (an SCM trained on
large objects only boxes small ones at mean IoU 0.14, with this part's
copies 0.39: ``tests/models/test_scale_composition.py``); on the yard
scenes that was not the SCM's error, and Ours+ with this part lost
(README, "Scaled copies of the SCM's base queries"): an experiment part,
off in every config but its ablation.

:class:`ScaleComposition` shows the SCM each base query at another size as
well: the query's selected boxes and its ground truth, scaled together
about the object's centre by a random factor, clipped to the image. The
relation between the heatmap and the object stays what the recognition
head made it; only the size changes, as multi-scale training does for an
image detector. The part is chosen by ``type`` in the SCM's
``train_composition`` config (mmdet's TASK_UTILS), like
:class:`NeighbourComposition`, and works on boxes before the inputs part
paints them, so every heatmap mode (and :class:`BoxInputs`) sees one
consistent query. It runs in training only; the SCM's predictions for the
novel classes are made from their queries as they are.
"""
import math
from typing import List, Sequence, Tuple

import torch
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor

from .neighbour_composition import query_object_boxes, usable_queries


def _scaled(boxes: Tensor, centre: Tensor, factor: Tensor,
            bound: Tensor) -> Tensor:
    """[N, 4] ``boxes`` scaled by ``factor`` about ``centre`` [2] and
    clipped to [0, bound] ([4]: w, h, w, h)."""
    c = centre.repeat(2)
    return torch.minimum((c + factor * (boxes - c)).clamp(min=0), bound)


def _non_empty(boxes: Tensor) -> Tensor:
    """[N] bool: the boxes with positive width and height."""
    return ((boxes[:, 2:] - boxes[:, :2]) > 0).all(dim=1)


@TASK_UTILS.register_module()
class ScaleComposition:
    """Add to the SCM's base queries copies scaled about their object.

    Each base query with at least one selected box and one target box gets
    a copy with probability ``prob``. The copy's selected boxes (scores
    unchanged) and targets are the query's, scaled about the centre of its
    object (the ground-truth box its top selected box overlaps most) by a
    factor drawn log-uniformly from ``scale`` and clipped to the query's
    image; boxes left empty by the clipping are dropped, and a copy left
    without a selected or a target box is not added. The copies are
    appended; the originals stay.

    Draws use torch's global generator (seeded by the runner).

    Args:
        prob (float): Probability that a query gets a scaled copy.
        scale (tuple[float, float]): Range (lo, hi), 0 < lo <= hi, of the
            scale factor, drawn uniformly in log space.
    """

    def __init__(self,
                 prob: float = 1.0,
                 scale: Tuple[float, float] = (0.5, 2.0)) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        lo, hi = scale
        if not 0 < lo <= hi:
            raise ValueError(f'scale must be a range (lo, hi) with '
                             f'0 < lo <= hi, got {(lo, hi)}')
        self.prob = prob
        self.scale = (float(lo), float(hi))

    def factors(self, num: int, like: Tensor) -> Tensor:
        """[num] scale factors, log-uniform in ``scale``, in ``like``'s
        dtype and device."""
        lo, hi = math.log(self.scale[0]), math.log(self.scale[1])
        u = torch.rand(num, device=like.device, dtype=like.dtype)
        return torch.exp(lo + (hi - lo) * u)

    def __call__(
        self, queries: Tensor, selected: InstanceList,
        targets: List[Tensor], img_shapes: Sequence[Tuple[int, int]]
    ) -> Tuple[Tensor, InstanceList, List[Tensor]]:
        """The queries with their M scaled copies appended: the arguments
        and results of :meth:`NeighbourComposition.__call__` (queries
        [Q + M, 2]; selected and targets Q + M items, the copies' targets
        scaled with them)."""
        targets = [get_box_tensor(t) for t in targets]
        usable = usable_queries(selected, targets)
        if not usable or self.prob == 0:
            return queries, selected, targets
        chosen = (torch.rand(len(usable)) < self.prob).tolist()
        idx = [i for i, keep in zip(usable, chosen) if keep]
        if not idx:
            return queries, selected, targets
        objects = query_object_boxes([selected[i] for i in idx],
                                     [targets[i] for i in idx])  # [M, 4]
        centres = (objects[:, :2] + objects[:, 2:]) / 2  # [M, 2]
        factors = self.factors(len(idx), objects)  # [M]
        added, new_selected, new_targets = [], [], []
        for k, i in enumerate(idx):  # per query
            h, w = img_shapes[int(queries[i, 0])][:2]
            bound = objects.new_tensor([w, h, w, h])
            boxes = _scaled(selected[i].bboxes, centres[k], factors[k],
                            bound)
            gts = _scaled(targets[i], centres[k], factors[k], bound)
            keep, keep_gt = _non_empty(boxes), _non_empty(gts)
            if not keep.any() or not keep_gt.any():
                continue
            added.append(i)
            # a subset keeps the decreasing score order
            new_selected.append(
                InstanceData(bboxes=boxes[keep],
                             scores=selected[i].scores[keep]))
            new_targets.append(gts[keep_gt])
        if not added:
            return queries, selected, targets
        new_queries = queries[torch.tensor(added, device=queries.device)]
        return (torch.cat([queries, new_queries]),
                list(selected) + new_selected,
                list(targets) + new_targets)
