"""SCM training queries with a neighbour: two base queries composed.

The SCM learns on base classes how a class's confident boxes relate to the
object, and is applied to novel classes. A novel class that rides on or
stands against another object gets confident boxes on that object too (the
recognition head learnt from image labels that the two come together), so
its heatmap holds a second, weaker mass touching the object. Where the
base classes seldom touch anything, the SCM never sees such heatmaps while
learning, and boxes the whole mass: the object and its neighbour.

:class:`NeighbourComposition` makes those training queries from the base
queries the SCM already has: to a query's selected boxes it adds another
query's, moved so that the other query's object touches or overlaps this
query's object, with scores scaled below this query's; the target stays
this query's ground truth. The part is chosen by ``type`` in the SCM's
``train_composition`` config (mmdet's TASK_UTILS) and works on boxes, before
the inputs part paints them, so every heatmap mode (and :class:`BoxInputs`)
sees a consistent query.
"""
from typing import List, Sequence, Tuple

import torch
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

__all__ = ['NeighbourComposition', 'query_object_boxes', 'usable_queries']


def query_object_boxes(selected: InstanceList,
                       targets: List[Tensor]) -> Tensor:
    """Per query the ground-truth box its top selected box overlaps most.

    All queries at once: the targets are zero-padded to [Q, K_max, 4]
    (a zero box overlaps nothing, and ``argmax`` takes the first of equal
    overlaps, so padding is never chosen).

    Args:
        selected (list[InstanceData]): Q items, ``bboxes`` [n_q, 4] by
            decreasing score (n_q >= 1).
        targets (list[Tensor]): Q items, [K_q, 4] (K_q >= 1).

    Returns:
        Tensor: [Q, 4].
    """
    tops = torch.stack([sel.bboxes[0] for sel in selected])[:, None]
    gts = pad_sequence(targets, batch_first=True)  # [Q, K_max, 4]
    best = bbox_overlaps(tops, gts)[:, 0].argmax(dim=1)  # [Q]
    return gts[torch.arange(len(gts), device=gts.device), best]


def usable_queries(selected: InstanceList,
                   targets: List[Tensor]) -> List[int]:
    """Indices of the queries a composition can copy: at least one
    selected box and one target box. Q items each -> list of int."""
    return [
        i for i, (s, t) in enumerate(zip(selected, targets))
        if len(s) and len(t)
    ]


def _uniform(bounds: Tuple[float, float], num: int, like: Tensor) -> Tensor:
    """[num] draws from U(bounds) in ``like``'s dtype and device."""
    lo, hi = bounds
    return lo + (hi - lo) * torch.rand(num, device=like.device,
                                       dtype=like.dtype)


@TASK_UTILS.register_module()
class NeighbourComposition:
    """Add to the SCM's base queries copies with a touching neighbour.

    Each base query ``q`` with at least one selected box is composed with
    probability ``prob``. Its partner ``p`` is another such query of the
    batch, drawn at random. ``p``'s object (its ground-truth box that its
    top selected box overlaps most) is placed against a random side of
    ``q``'s object, overlapping it by a fraction of ``p``'s extent along
    that axis drawn from ``overlap``, its centre drawn along the other
    axis within ``q``'s object; every selected box of ``p`` moves with it,
    and its scores are scaled so that its top score is ``w`` times ``q``'s
    top score, ``w`` drawn from ``weight``. The composed query's boxes are
    ``q``'s and the moved ones (clipped to ``q``'s image), its target
    ``q``'s ground truth: the neighbour is context, not the object. The
    composed queries are added to the batch; the originals stay.

    Draws use torch's global generator (seeded by the runner).

    Args:
        prob (float): Probability that a query gets a composed copy.
        weight (tuple[float, float]): Range of the neighbour's top score
            relative to the query's (below 1: the query's own class is the
            stronger evidence).
        overlap (tuple[float, float]): Range of the fraction of the
            neighbour's extent that overlaps the object (0: touching).
    """

    def __init__(self,
                 prob: float = 0.5,
                 weight: Tuple[float, float] = (0.2, 0.8),
                 overlap: Tuple[float, float] = (0., 0.5)) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        for name, (lo, hi) in (('weight', weight), ('overlap', overlap)):
            if not 0 <= lo <= hi <= 1:
                raise ValueError(f'{name} must be a range (lo, hi) with '
                                 f'0 <= lo <= hi <= 1, got {(lo, hi)}')
        self.prob = prob
        self.weight = tuple(weight)
        self.overlap = tuple(overlap)

    def offsets(self, objects: Tensor, partner_objects: Tensor) -> Tensor:
        """Shifts that put each partner object against its query's object.

        Args:
            objects (Tensor): [N, 4] the queries' object boxes.
            partner_objects (Tensor): [N, 4] their partners' object boxes.

        Returns:
            Tensor: [N, 2] (dx, dy) to add to the partners' boxes.
        """
        num = len(objects)
        size = partner_objects[:, 2:] - partner_objects[:, :2]  # [N, 2]
        centre = (partner_objects[:, :2] + partner_objects[:, 2:]) / 2
        side = torch.randint(4, (num, ), device=objects.device)  # l r t b
        axis = side // 2  # 0: x (left / right), 1: y (top / bottom)
        overlap = _uniform(self.overlap, num, objects)
        along = _uniform((0., 1.), num, objects)
        rows = torch.arange(num, device=objects.device)
        half = size[rows, axis] / 2
        inset = overlap * size[rows, axis]
        # the partner centre on the placement axis: outside the object's
        # near edge (first side) or far edge (second side), by half its
        # extent less the overlap
        low_edge, high_edge = objects[rows, axis], objects[rows, axis + 2]
        on_axis = torch.where(side % 2 == 0, low_edge - half + inset,
                              high_edge + half - inset)
        other = 1 - axis
        across = objects[rows, other] + along * (
            objects[rows, other + 2] - objects[rows, other])
        target = torch.zeros_like(centre)
        target[rows, axis] = on_axis
        target[rows, other] = across
        return target - centre

    def __call__(
        self, queries: Tensor, selected: InstanceList,
        targets: List[Tensor], img_shapes: Sequence[Tuple[int, int]]
    ) -> Tuple[Tensor, InstanceList, List[Tensor]]:
        """The queries with their composed copies appended.

        Args:
            queries (Tensor): [Q, 2] (image index, class column).
            selected (list[InstanceData]): Q items, ``bboxes`` [n_q, 4]
                (image pixels) and ``scores`` [n_q], by decreasing score.
            targets (list[Tensor]): Q items, [K_q, 4] ground-truth boxes,
                image pixels.
            img_shapes (Sequence): Per image (h, w).

        Returns:
            tuple: queries [Q + M, 2], selected and targets (Q + M items):
            the inputs, then the M composed queries (each with its query's
            image index, class column and targets).
        """
        targets = [get_box_tensor(t) for t in targets]
        idx = torch.tensor(usable_queries(selected, targets),
                           dtype=torch.long)
        num = len(idx)
        if num < 2 or self.prob == 0:
            return queries, selected, targets
        # partners: another usable query (a random non-zero roll)
        shift = torch.randint(1, num, (num, ))
        partner = idx[(torch.arange(num) + shift) % num]
        chosen = torch.rand(num) < self.prob
        idx, partner = idx[chosen].tolist(), partner[chosen].tolist()
        if not idx:
            return queries, selected, targets
        objects = query_object_boxes([selected[i] for i in idx],
                                     [targets[i] for i in idx])
        partner_objects = query_object_boxes(
            [selected[p] for p in partner], [targets[p] for p in partner])
        dxy = self.offsets(objects, partner_objects).repeat(1, 2)  # [M, 4]
        weights = _uniform(self.weight, len(idx), objects)
        new_selected = []
        for k, (i, p) in enumerate(zip(idx, partner)):  # per query
            own, other = selected[i], selected[p]
            h, w = img_shapes[int(queries[i, 0])][:2]
            bound = other.bboxes.new_tensor([w, h, w, h])
            moved = torch.minimum((other.bboxes + dxy[k]).clamp(min=0),
                                  bound)
            inside = ((moved[:, 2:] - moved[:, :2]) > 0).all(1)
            scale = weights[k] * own.scores[0] / \
                other.scores[0].clamp(min=1e-12)
            scores = torch.cat([own.scores, other.scores[inside] * scale])
            order = scores.argsort(descending=True, stable=True)
            new_selected.append(
                InstanceData(
                    bboxes=torch.cat([own.bboxes, moved[inside]])[order],
                    scores=scores[order]))
        new_queries = queries[torch.tensor(idx, device=queries.device)]
        return (torch.cat([queries, new_queries]),
                list(selected) + new_selected,
                list(targets) + [targets[i] for i in idx])
