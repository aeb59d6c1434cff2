"""The spatial correlation module (SCM) of the CSOD paper, section 4."""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures.bbox import get_box_tensor
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

from .scm_inputs import BaseSCMInputs, HeatmapInputs, QueryBatch


def _detector_class(cfg: dict):
    """The class a detector config builds (``type`` a name or a class)."""
    det_type = cfg.get('type')
    if isinstance(det_type, type):
        return det_type
    cls = MODELS.get(det_type)
    if cls is None:
        raise KeyError(f'{det_type!r} is not in the MODELS registry')
    return cls


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
        # detector takes no heatmap)
        # (and without the feature channels of inputs that add them)
        if isinstance(self.inputs, HeatmapInputs):
            self._painter = self.inputs if not self.inputs.needs_feats else \
                HeatmapInputs(self.inputs.modes, self.inputs.normalize)
        else:
            self._painter = HeatmapInputs()
        self.detector = MODELS.build(self.inputs.adapt_detector(detector))

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

        Args:
            proposals (list[Tensor]): Per image [R_i, 4], image pixels.
            scores (list[Tensor]): Per image [R_i, C].
            queries (Tensor): [Q, 2] (image index, class column).

        Returns:
            list[InstanceData]: Q items, ``bboxes`` [n_q, 4] (image pixels)
            and ``scores`` [n_q], by decreasing score, n_q = 0 only when
            the image has no proposal.
        """
        selected = []
        for i, c in torch.as_tensor(queries).reshape(-1, 2).tolist():
            s = scores[i][:, c].detach()
            order = s.argsort(descending=True)[:self.max_boxes]
            s = s[order]
            if len(s):
                keep = s >= self.score_thr * s[0]
                order, s = order[keep], s[keep]
            selected.append(
                InstanceData(
                    bboxes=get_box_tensor(proposals[i]).detach()[order],
                    scores=s))
        return selected

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
        selected = self.select(proposals, scores, queries)
        sizes = [
            self.heatmap_size(img_shapes[i]) for i in queries[:, 0].tolist()
        ]
        param = next(self.detector.parameters())  # the input's type
        inputs = self.inputs if inputs is None else inputs
        return inputs(queries, selected, sizes, self.heatmap_stride, param,
                      feats=feats)

    def heatmaps(self, proposals: List[Tensor], scores: List[Tensor],
                 queries: Tensor,
                 img_shapes: Sequence) -> Tuple[Tensor, List[tuple]]:
        """The heatmaps of the queries' selected boxes, for visualisation.

        The detector's input with :class:`HeatmapInputs`; with other inputs
        the heatmaps a default ``HeatmapInputs()`` paints (channels
        :attr:`heatmap_modes`).

        Args:
            proposals (list[Tensor]): Per image [R_i, 4], image pixels.
            scores (list[Tensor]): Per image [R_i, C].
            queries (Tensor): [Q, 2] (image index, class column).
            img_shapes (Sequence): Per image (h, w).

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
            ``loss_centerness`` for ``HeatmapFCOS``); with Q = 0 zeros that
            depend on every parameter.
        """
        batch = self.prepare(proposals, scores, queries, img_shapes,
                             feats=feats)
        if len(targets) != len(batch.metas):
            raise ValueError(f'{len(targets)} target sets for '
                             f'{len(batch.metas)} queries')
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
        bboxes = torch.zeros((num_queries, 4), dtype=dtype, device=device)
        out_scores = torch.zeros((num_queries, ), dtype=dtype, device=device)
        fallback = torch.zeros((num_queries, ),
                               dtype=torch.bool,
                               device=device)
        extra_boxes, extra_scores, extra_ids = [], [], []
        if num_queries:
            results = self.detector.predict(batch.detector_inputs, batch.metas)
            img_ids = queries[:, 0].tolist()
            for q, (res, sel) in enumerate(zip(results, batch.selected)):
                h, w = img_shapes[img_ids[q]][:2]
                boxes = res.bboxes.to(dtype) * self.heatmap_stride
                boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
                boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
                # a box on the zero padding around a smaller image in the
                # batch would clip to zero size (an infinite regression
                # target for the detection head)
                valid = ((boxes[:, 2:] - boxes[:, :2]) >= 1).all(1) & \
                    torch.isfinite(boxes).all(1)
                if valid.any():
                    det_scores = res.scores.to(dtype).masked_fill(~valid, -1)
                    order = det_scores.argsort(descending=True)
                    k = order[0]
                    bboxes[q] = boxes[k]
                    out_scores[q] = det_scores[k]
                    more = order[1:self.max_per_query]
                    more = more[det_scores[more] >=
                                self.min_score_ratio * det_scores[k]]
                    extra_boxes.append(boxes[more])
                    extra_scores.append(det_scores[more])
                    extra_ids.append(more.new_full((len(more), ), q))
                elif len(sel):
                    fallback[q] = True
                    box = sel.bboxes[0].to(dtype).clone()
                    box[0::2] = box[0::2].clamp(0, w)
                    box[1::2] = box[1::2].clamp(0, h)
                    bboxes[q] = box
                    out_scores[q] = sel.scores[0]
                else:
                    fallback[q] = True
                    bboxes[q] = bboxes.new_tensor([0, 0, w, h])
        query_ids = torch.arange(num_queries, device=device)
        if extra_boxes:
            bboxes = torch.cat([bboxes, *extra_boxes])
            out_scores = torch.cat([out_scores, *extra_scores])
            query_ids = torch.cat([query_ids, *[i.to(device)
                                                for i in extra_ids]])
            fallback = torch.cat(
                [fallback, fallback.new_zeros(len(bboxes) - num_queries)])
        queries = queries.to(device)
        return InstanceData(
            bboxes=bboxes,
            scores=out_scores,
            from_fallback=fallback,
            query_ids=query_ids,
            img_ids=queries[query_ids, 0],
            labels=queries[query_ids, 1])
