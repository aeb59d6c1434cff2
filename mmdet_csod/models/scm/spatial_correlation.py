"""The spatial correlation module (SCM) of the CSOD paper, section 4."""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures.bbox import get_box_tensor
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from .context_heatmap_inputs import context_selection
from .scm_inputs import BaseSCMInputs, HeatmapInputs, QueryBatch


def _detector_class(cfg: dict):
    """The class a detector config builds (``type`` a name or a class)."""
    det_type = cfg.get('type')
    cls = det_type if isinstance(det_type, type) else MODELS.get(det_type)
    if cls is None:
        raise KeyError(f'{det_type!r} is not in the MODELS registry')
    return cls


def _clip(boxes: Tensor, image_boxes: Tensor) -> Tensor:
    """Boxes [N, 4] clipped to their images' (0, 0, w, h) rows [N, 4]."""
    return torch.minimum(boxes.clamp(min=0), image_boxes[:, 2:].repeat(1, 2))


@MODELS.register_module()
class SpatialCorrelationModule(BaseModule):
    """Refine the recognition head's boxes into pseudo ground truth.

    A query ``(i, c)`` is a class ``c`` (a column of the recognition
    scores) present in image ``i``. For each query the SCM

    1. selects the confident proposals of class ``c``: those whose score is
       ``>= score_thr`` times the highest score of ``c`` in the image, at
       most ``max_boxes`` of them by decreasing score;
    2. makes the detector's input from them with the ``inputs`` part, in
       the frame of a heatmap at ``1 / heatmap_stride`` of the image
       resolution (size ``(ceil(h / stride), ceil(w / stride))``, boxes
       divided by the stride): :class:`HeatmapInputs` paints a
       class-agnostic heatmap of them (:func:`synthesize_heatmap`, its
       ``modes``, normalized), :class:`BoxInputs` passes the boxes and
       scores themselves;
    3. runs the ``detector`` (:class:`HeatmapFCOS` by default, or
       :class:`ProposalFCRegressor`, the paper's fc baseline) on it. It is
       trained on base classes (``loss``: the targets are the ground-truth
       boxes of class ``c`` in image ``i``) and applied to novel classes
       (``predict``), whose boxes become the detection head's pseudo
       ground truth.

    Detector interface: ``loss(inputs, batch_gt_instances,
    batch_img_metas) -> dict`` and ``predict(inputs, batch_img_metas) ->
    list[InstanceData]`` where ``inputs`` is the batch's
    ``detector_inputs`` (:class:`QueryHeatmaps`: heatmaps [Q, C_h, Hmax,
    Wmax], zero-padded; :class:`QueryBoxes`: Q ``InstanceData`` of boxes
    [n_q, 4] in heatmap pixels with their ``scores``), ground truth
    ``bboxes`` [K_q, 4] and ``labels`` (0) in heatmap pixels and metas with
    ``img_shape`` (the unpadded heatmap (h, w)) and ``pad_shape``. A
    detector class declares the batch type it takes (``input_type``,
    checked here) and its ``default_inputs`` config; the inputs part sets
    a heatmap detector's ``in_channels`` to the number of modes.

    Inputs are detached: gradients only reach the SCM's own parameters.

    Args:
        heatmap_stride (float): Image pixels per heatmap pixel.
        score_thr (float): Relative score threshold of the selection.
        max_boxes (int): Most boxes selected per query.
        max_per_query (int): Most boxes :meth:`predict` returns per query
            (the SCM is a detector: a class can have several instances in
            an image). 1 is the paper's one pseudo box per class.
        min_score_ratio (float): With ``max_per_query > 1``, further boxes
            are kept when their score is at least this fraction of the
            query's top box (after the detector's NMS).
        inputs (dict, optional): Config of the inputs part (TASK_UTILS),
            e.g. ``dict(type='HeatmapInputs', modes=('max', 'sum'))``
            (Table 3a: the heatmap channels) or ``dict(type='BoxInputs')``;
            None: the detector's ``default_inputs``.
        detector (dict): Config of the detector (Table 3b: the number of
            convs of ``HeatmapFCOS``, or ``ProposalFCRegressor``).
        train_composition (dict, optional): Config of a part (TASK_UTILS)
            that adds composed base queries to :meth:`loss`, e.g.
            ``dict(type='NeighbourComposition')``; None: none.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 heatmap_stride: float = 4,
                 score_thr: float = 0.1,
                 max_boxes: int = 100,
                 max_per_query: int = 1,
                 min_score_ratio: float = 0.5,
                 inputs: Optional[dict] = None,
                 detector: dict = dict(type='HeatmapFCOS'),
                 train_composition: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if heatmap_stride <= 0:
            raise ValueError(f'heatmap_stride must be > 0, got '
                             f'{heatmap_stride}')
        self.heatmap_stride = heatmap_stride
        self.score_thr = score_thr
        self.max_boxes = max_boxes
        if max_per_query < 1 or not 0 <= min_score_ratio <= 1:
            raise ValueError(f'max_per_query must be >= 1 and '
                             f'min_score_ratio in [0, 1], got '
                             f'{max_per_query}, {min_score_ratio}')
        self.max_per_query = max_per_query
        self.min_score_ratio = min_score_ratio
        det_cls = _detector_class(detector)
        if inputs is None:
            inputs = getattr(det_cls, 'default_inputs',
                             dict(type='HeatmapInputs'))
        self.inputs = inputs if isinstance(inputs, BaseSCMInputs) else \
            TASK_UTILS.build(inputs)
        if not isinstance(self.inputs, BaseSCMInputs):
            raise TypeError(f'inputs built a {type(self.inputs).__name__}, '
                            'not an SCM inputs part (BoxInputs, '
                            'HeatmapInputs)')
        wanted = getattr(det_cls, 'input_type', None)
        given = self.inputs.batch_type
        if wanted is not None and not issubclass(given, wanted):
            raise ValueError(
                f'{det_cls.__name__} takes {wanted.__name__}, but the '
                f'inputs {type(self.inputs).__name__} give '
                f'{given.__name__}: use inputs='
                f'{getattr(det_cls, "default_inputs", None)}')
        # the heatmaps that heatmaps() shows (painted for it alone when the
        # detector takes no heatmap), without feature or context channels
        extra = self.inputs.needs_feats or self.inputs.needs_context
        if isinstance(self.inputs, HeatmapInputs):
            self._painter = self.inputs if not extra else \
                HeatmapInputs(self.inputs.modes, self.inputs.normalize)
        else:
            self._painter = HeatmapInputs()
        self.detector = MODELS.build(self.inputs.adapt_detector(detector))
        self.train_composition = None if train_composition is None else \
            TASK_UTILS.build(train_composition)
        if self.train_composition is not None and extra:
            raise ValueError(
                f'train_composition moves boxes between images; the inputs '
                f'{type(self.inputs).__name__} read the image (features or '
                'other classes) under them: use HeatmapInputs or BoxInputs')

    @property
    def heatmap_modes(self) -> Tuple[str, ...]:
        """The channels of the heatmaps :meth:`heatmaps` returns."""
        return self._painter.modes

    # ------------------------------------------------------------- inputs
    def heatmap_size(self, img_shape: Sequence[int]) -> Tuple[int, int]:
        """(h, w) of the heatmap of an image of shape ``img_shape``."""
        s = self.heatmap_stride
        return (int(math.ceil(img_shape[0] / s)),
                int(math.ceil(img_shape[1] / s)))

    def select(self, proposals: List[Tensor], scores: List[Tensor],
               queries: Tensor) -> List[InstanceData]:
        """The confident proposals of each query.

        All queries at once: the images' score columns are padded into one
        [Q, R_max] matrix, ranked with one ``topk`` and cut at the relative
        threshold (a prefix of each ranked row).

        Args:
            proposals (list[Tensor]): Per image [R_i, 4], image pixels.
            scores (list[Tensor]): Per image [R_i, C].
            queries (Tensor): [Q, 2] (image index, class column).

        Returns:
            list[InstanceData]: Q items, ``bboxes`` [n_q, 4] (image pixels)
            and ``scores`` [n_q], by decreasing score, n_q = 0 only when
            the image has no proposal.
        """
        queries = torch.as_tensor(queries).reshape(-1, 2)
        if not len(queries):
            return []
        device = scores[0].device
        img_ids, cols = queries.to(device).long().unbind(1)
        counts = torch.tensor([len(s) for s in scores], device=device)
        # [B, R_max, C] and [B, R_max, 4], padded with -inf and zeros
        padded = pad_sequence([s.detach() for s in scores],
                              batch_first=True,
                              padding_value=-math.inf)
        boxes = pad_sequence(
            [get_box_tensor(p).detach() for p in proposals],
            batch_first=True)
        rows = padded[img_ids, :, cols]  # [Q, R_max]
        top, order = rows.topk(min(self.max_boxes, rows.shape[1]), dim=1)
        rank = torch.arange(top.shape[1], device=device)
        keep = (rank < counts[img_ids, None]) & \
            (top >= self.score_thr * top[:, :1])
        num_kept = keep.sum(1).tolist()  # the one host sync
        kept_boxes = boxes[img_ids[:, None], order][keep].split(num_kept)
        kept_scores = top[keep].split(num_kept)
        return [
            InstanceData(bboxes=b, scores=s)
            for b, s in zip(kept_boxes, kept_scores)
        ]

    def prepare(self,
                proposals: List[Tensor],
                scores: List[Tensor],
                queries: Tensor,
                img_shapes: Sequence,
                inputs: Optional[BaseSCMInputs] = None,
                feats: Optional[Tensor] = None) -> QueryBatch:
        """The detector's batch of the queries.

        Args:
            proposals (list[Tensor]): Per image [R_i, 4], image pixels.
            scores (list[Tensor]): Per image [R_i, C].
            queries (Tensor): [Q, 2] (image index, class column).
            img_shapes (Sequence): Per image (h, w).
            inputs (BaseSCMInputs, optional): The inputs part; default: the
                SCM's ``inputs``.
            feats (Tensor, optional): [B, C_f, Hf, Wf] the images' feature
                map, for inputs that use it (``needs_feats``).

        Returns:
            QueryBatch: what ``inputs`` gives (:class:`QueryBoxes` for
            :class:`BoxInputs`, :class:`QueryHeatmaps` for
            :class:`HeatmapInputs`), in the dtype and device of the
            detector's parameters.
        """
        queries = torch.as_tensor(queries).reshape(-1, 2)
        inputs = self.inputs if inputs is None else inputs
        context = context_selection(self.select, proposals, scores, queries
                                    ) if inputs.needs_context else None
        return self.batch_of(queries,
                             self.select(proposals, scores, queries),
                             img_shapes, inputs, feats, context)

    def batch_of(self,
                 queries: Tensor,
                 selected: List[InstanceData],
                 img_shapes: Sequence,
                 inputs: Optional[BaseSCMInputs] = None,
                 feats: Optional[Tensor] = None,
                 context: Optional[List[InstanceData]] = None) -> QueryBatch:
        """The detector's batch of queries whose boxes are selected
        (:meth:`prepare`'s arguments, ``selected`` as :meth:`select`
        returns them; ``context`` as :func:`context_selection` does)."""
        sizes = [
            self.heatmap_size(img_shapes[i]) for i in queries[:, 0].tolist()
        ]
        param = next(self.detector.parameters())  # the input's type
        inputs = self.inputs if inputs is None else inputs
        return inputs(queries, selected, sizes, self.heatmap_stride, param,
                      feats=feats, context=context)

    def heatmaps(self, proposals: List[Tensor], scores: List[Tensor],
                 queries: Tensor,
                 img_shapes: Sequence) -> Tuple[Tensor, List[tuple]]:
        """The heatmaps of the queries' selected boxes, for visualisation:
        the detector's input with :class:`HeatmapInputs`, else what a
        ``HeatmapInputs`` of its modes (or the default) paints (channels
        :attr:`heatmap_modes`, no feature or context channels). Arguments
        as :meth:`prepare`'s.

        Returns:
            tuple: heatmaps [Q, len(heatmap_modes), Hmax, Wmax]
            (normalized when the painter normalizes, zero-padded, with the
            dtype and device of the detector's parameters) and the Q
            unpadded sizes (h, w).
        """
        batch = self.prepare(proposals, scores, queries, img_shapes,
                             self._painter)
        return batch.heatmaps, batch.sizes

    # ------------------------------------------------------- train / test
    def loss(self, proposals: List[Tensor], scores: List[Tensor],
             queries: Tensor, targets: List[Tensor],
             img_shapes: Sequence,
             feats: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Detector losses on base-class queries.

        Args:
            proposals (list[Tensor]): Per image [R_i, 4], image pixels.
            scores (list[Tensor]): Per image [R_i, C] recognition scores.
            queries (Tensor): [Q, 2] (image index, class column).
            targets (list[Tensor]): Q items, [K_q, 4] ground-truth boxes
                of the query's class in its image, image pixels.
            img_shapes (Sequence): Per image (h, w).
            feats (Tensor, optional): [B, C_f, Hf, Wf], see :meth:`prepare`.

        Returns:
            dict: The detector's losses (``loss_cls``, ``loss_bbox``,
            ``loss_centerness`` for ``HeatmapFCOS``) on the queries and
            the ``train_composition``'s added ones; with Q = 0 zeros that
            depend on every parameter.
        """
        queries = torch.as_tensor(queries).reshape(-1, 2)
        if len(targets) != len(queries):
            raise ValueError(f'{len(targets)} target sets for '
                             f'{len(queries)} queries')
        selected = self.select(proposals, scores, queries)
        if self.train_composition is not None:
            queries, selected, targets = self.train_composition(
                queries, selected, targets, img_shapes)
        context = context_selection(self.select, proposals, scores, queries
                                    ) if self.inputs.needs_context else None
        batch = self.batch_of(queries, selected, img_shapes, feats=feats,
                              context=context)
        gts = []
        for boxes in targets:
            boxes = get_box_tensor(boxes).detach().float()
            gts.append(
                InstanceData(
                    bboxes=boxes / self.heatmap_stride,
                    labels=torch.zeros((len(boxes), ),
                                       dtype=torch.long,
                                       device=boxes.device)))
        return self.detector.loss(batch.detector_inputs, gts, batch.metas)

    @torch.no_grad()
    def predict(self,
                proposals: List[Tensor],
                scores: List[Tensor],
                queries: Tensor,
                img_shapes: Sequence,
                feats: Optional[Tensor] = None) -> InstanceData:
        """Pseudo ground-truth boxes of the queries.

        The detector's top box (highest score) of each query, scaled back
        to image pixels and clipped to the image, among those at least 1
        pixel wide and high after clipping; with ``max_per_query > 1`` also
        its next boxes scoring at least ``min_score_ratio`` of the top one.
        When the detector finds nothing (e.g. ``HeatmapFCOS`` early in
        training, with no location above its ``score_thr``), the fallback
        is the query's top-scoring proposal, OICR's pseudo box (clipped to
        the image), with its recognition score; with no proposal at all,
        the whole image with score 0.

        Args:
            proposals (list[Tensor]): Per image [R_i, 4], image pixels.
            scores (list[Tensor]): Per image [R_i, C] recognition scores.
            queries (Tensor): [Q, 2] (image index, class column).
            img_shapes (Sequence): Per image (h, w).
            feats (Tensor, optional): [B, C_f, Hf, Wf], see :meth:`prepare`.

        Returns:
            InstanceData: N >= Q rows, the first box of each query first
            (in query order), then the further ones: ``bboxes`` [N, 4]
            (image pixels), ``scores`` [N] (the detector's score, or the
            fallback's), ``from_fallback`` [N] bool, ``query_ids`` [N]
            (row of ``queries``), ``img_ids`` [N] and ``labels`` [N]
            (class columns). With ``max_per_query=1``, N = Q.
        """
        batch = self.prepare(proposals, scores, queries, img_shapes,
                             feats=feats)
        queries = batch.queries
        param = next(self.detector.parameters())
        dtype = scores[0].dtype if len(scores) else param.dtype
        device = scores[0].device if len(scores) else param.device
        num_queries = len(queries)
        queries = queries.to(device)
        if not num_queries:
            none = torch.zeros((0, ), dtype=dtype, device=device)
            return self._pseudo_boxes(queries, none.reshape(0, 4), none,
                                      none.bool(), none.long())
        results = self.detector.predict(batch.detector_inputs, batch.metas)
        # [Q, 4] (0, 0, w, h) of each query's image: the clipping bounds
        sizes = [img_shapes[i][:2] for i in queries[:, 0].tolist()]
        image_boxes = torch.tensor([[0, 0, w, h] for h, w in sizes],
                                   dtype=dtype,
                                   device=device)
        # all queries' detections as one set of M rows
        lens = [len(r) for r in results]
        per_query = torch.tensor(lens, device=device)
        owner = torch.repeat_interleave(
            torch.arange(num_queries, device=device),
            per_query,
            output_size=sum(lens))  # [M] query of each detection
        boxes = torch.cat([r.bboxes.to(device, dtype) for r in results])
        boxes = _clip(boxes * self.heatmap_stride, image_boxes[owner])
        # a box on the zero padding around a smaller image in the batch
        # would clip to zero size (an infinite regression target for the
        # detection head)
        valid = ((boxes[:, 2:] - boxes[:, :2]) >= 1).all(1) & \
            torch.isfinite(boxes).all(1)
        det_scores = torch.cat([r.scores.to(device, dtype) for r in results])
        det_scores = det_scores.masked_fill(~valid, -1)
        # rows by query, then by decreasing score; rank within the query
        order = det_scores.argsort(descending=True, stable=True)
        order = order[owner[order].argsort(stable=True)]
        owner, det_scores, boxes = owner[order], det_scores[order], \
            boxes[order]
        first = per_query.cumsum(0) - per_query  # [Q] row of the top box
        rank = torch.arange(len(owner), device=device) - first[owner]
        found = owner.new_zeros(num_queries).index_add_(
            0, owner, valid[order].long()) > 0  # [Q] the detector found one
        top = first.clamp(max=max(len(owner) - 1, 0))
        top_boxes = boxes[top] if len(owner) else image_boxes
        top_scores = det_scores[top] if len(owner) else \
            det_scores.new_zeros(num_queries)
        # the fallback: the top selected proposal, else the whole image
        sel_boxes, sel_scores, has_sel = self._top_selected(
            batch.selected, image_boxes)
        fallback = ~found
        out_boxes = torch.where(
            found[:, None], top_boxes,
            torch.where(has_sel[:, None], _clip(sel_boxes, image_boxes),
                        image_boxes))
        out_scores = torch.where(found, top_scores,
                                 torch.where(has_sel, sel_scores, 0))
        # further boxes of the found queries, by decreasing score
        more = (rank >= 1) & (rank < self.max_per_query) & found[owner] & \
            (det_scores >= self.min_score_ratio * top_scores[owner])
        query_ids = torch.cat(
            [torch.arange(num_queries, device=device), owner[more]])
        return self._pseudo_boxes(
            queries, torch.cat([out_boxes, boxes[more]]),
            torch.cat([out_scores, det_scores[more]]),
            torch.cat([fallback, fallback.new_zeros(len(query_ids) -
                                                    num_queries)]),
            query_ids)

    @staticmethod
    def _top_selected(selected: List[InstanceData],
                      like: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Each query's top selected proposal: boxes [Q, 4] and scores [Q]
        (zeros where it has none) and whether it has one [Q] (bool)."""
        num = len(selected)
        has_sel = torch.tensor([len(s) > 0 for s in selected],
                               device=like.device)
        if not any(len(s) for s in selected):
            return like.new_zeros((num, 4)), like.new_zeros((num, )), has_sel
        boxes = pad_sequence([s.bboxes[:1].to(like) for s in selected],
                             batch_first=True)  # [Q, 1, 4]
        scores = pad_sequence([s.scores[:1].to(like) for s in selected],
                              batch_first=True)  # [Q, 1]
        return boxes[:, 0], scores[:, 0], has_sel

    @staticmethod
    def _pseudo_boxes(queries: Tensor, bboxes: Tensor, scores: Tensor,
                      from_fallback: Tensor,
                      query_ids: Tensor) -> InstanceData:
        return InstanceData(
            bboxes=bboxes,
            scores=scores,
            from_fallback=from_fallback,
            query_ids=query_ids,
            img_ids=queries[query_ids, 0],
            labels=queries[query_ids, 1])
