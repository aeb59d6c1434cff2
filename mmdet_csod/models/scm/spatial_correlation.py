"""The spatial correlation module (SCM) of the CSOD paper, section 4."""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import get_box_tensor
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

from ..utils import synthesize_heatmap
from ..utils.heatmap import HEATMAP_MODES


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
    2. paints a class-agnostic heatmap of them with
       :func:`synthesize_heatmap` (one channel per entry of ``modes``) at
       ``1 / heatmap_stride`` of the image resolution: size
       ``(ceil(h / stride), ceil(w / stride))``, boxes divided by the
       stride; with ``normalize`` every channel is divided by its maximum
       over the heatmap, so the input does not depend on the scale of the
       recognition scores (which differs between classes and drifts during
       training) or on the number of boxes;
    3. runs the heatmap ``detector`` (:class:`HeatmapFCOS` by default, or
       :class:`HeatmapFCRegressor`, the paper's fc baseline) on it. It is
       trained on base classes (``loss``: the targets are the ground-truth
       boxes of class ``c`` in image ``i``) and applied to novel classes
       (``predict``), whose boxes become the detection head's pseudo
       ground truth.

    Detector interface (both detectors implement it): a class attribute
    ``uses_heatmap`` (heatmaps are painted only when True, else None is
    passed), ``loss(heatmaps, batch_gt_instances, batch_img_metas,
    batch_boxes) -> dict`` and ``predict(heatmaps, batch_img_metas,
    batch_boxes) -> list[InstanceData]`` with, per query, heatmaps
    [Q, C_h, Hmax, Wmax] (zero-padded), ground truth ``bboxes`` [K_q, 4]
    and ``labels`` (0) in heatmap pixels, metas ``img_shape`` (the unpadded
    heatmap (h, w)) and ``pad_shape``, and the selected boxes ``bboxes``
    [n_q, 4] (heatmap pixels, decreasing score) with their ``scores``.
    A heatmap detector's ``in_channels`` is set to ``len(modes)``.

    Inputs are detached: gradients only reach the SCM's own parameters.

    Args:
        modes (Sequence[str]): Heatmap channels, from 'max', 'sum', 'num'
            (Table 3a; the paper: max and sum).
        heatmap_stride (float): Image pixels per heatmap pixel.
        score_thr (float): Relative score threshold of the selection.
        max_boxes (int): Most boxes selected per query.
        normalize (bool): Divide each heatmap channel by its maximum.
        max_per_query (int): Most boxes :meth:`predict` returns per query
            (the SCM is a detector: a class can have several instances in
            an image). 1 is the paper's one pseudo box per class.
        min_score_ratio (float): With ``max_per_query > 1``, further boxes
            are kept when their score is at least this fraction of the
            query's top box (after the detector's NMS).
        detector (dict): Config of the heatmap detector (Table 3b: the
            number of convs of ``HeatmapFCOS``, or ``HeatmapFCRegressor``).
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 modes: Sequence[str] = ('max', 'sum'),
                 heatmap_stride: float = 4,
                 score_thr: float = 0.1,
                 max_boxes: int = 100,
                 normalize: bool = True,
                 max_per_query: int = 1,
                 min_score_ratio: float = 0.5,
                 detector: dict = dict(type='HeatmapFCOS'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        modes = tuple(modes)
        if not modes or any(m not in HEATMAP_MODES for m in modes):
            raise ValueError(f'modes must be a non-empty sequence of '
                             f'{HEATMAP_MODES}, got {modes}')
        if heatmap_stride <= 0:
            raise ValueError(f'heatmap_stride must be > 0, got '
                             f'{heatmap_stride}')
        self.modes = modes
        self.heatmap_stride = heatmap_stride
        self.score_thr = score_thr
        self.max_boxes = max_boxes
        self.normalize = normalize
        if max_per_query < 1 or not 0 <= min_score_ratio <= 1:
            raise ValueError(f'max_per_query must be >= 1 and '
                             f'min_score_ratio in [0, 1], got '
                             f'{max_per_query}, {min_score_ratio}')
        self.max_per_query = max_per_query
        self.min_score_ratio = min_score_ratio
        detector = dict(detector)
        self.uses_heatmap = getattr(
            _detector_class(detector), 'uses_heatmap', True)
        if self.uses_heatmap:
            given = detector.get('in_channels', len(modes))
            if given != len(modes):
                raise ValueError(f'detector in_channels={given} does not '
                                 f'match the {len(modes)} heatmap modes')
            detector['in_channels'] = len(modes)
        self.detector = MODELS.build(detector)

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

    def _inputs(self, proposals: List[Tensor], scores: List[Tensor],
                queries: Tensor, img_shapes: Sequence, paint: bool) -> dict:
        """Selected boxes, heatmaps and metas of the queries."""
        queries = torch.as_tensor(queries).reshape(-1, 2)
        selected = self.select(proposals, scores, queries)
        img_ids = queries[:, 0].tolist()
        sizes = [self.heatmap_size(img_shapes[i]) for i in img_ids]
        pad_h = max([h for h, _ in sizes], default=0)
        pad_w = max([w for _, w in sizes], default=0)
        batch_boxes = [
            InstanceData(
                bboxes=sel.bboxes / self.heatmap_stride, scores=sel.scores)
            for sel in selected
        ]
        metas = [
            dict(
                img_shape=size,
                ori_shape=size,
                pad_shape=(pad_h, pad_w),
                batch_input_shape=(pad_h, pad_w),
                scale_factor=(1., 1.),
                heatmap_stride=self.heatmap_stride) for size in sizes
        ]
        heatmaps = None
        if paint:
            param = next(self.detector.parameters())  # the input's type
            heatmaps = param.new_zeros(
                (len(sizes), len(self.modes), pad_h, pad_w))
            for q, (boxes, size) in enumerate(zip(batch_boxes, sizes)):
                hm = synthesize_heatmap(boxes.bboxes, boxes.scores, size,
                                        self.modes)
                if self.normalize:
                    peak = hm.flatten(1).amax(dim=1).clamp(min=1e-12)
                    hm = hm / peak[:, None, None]
                heatmaps[q, :, :size[0], :size[1]] = hm
        return dict(
            queries=queries,
            selected=selected,
            batch_boxes=batch_boxes,
            sizes=sizes,
            metas=metas,
            heatmaps=heatmaps)

    def heatmaps(self, proposals: List[Tensor], scores: List[Tensor],
                 queries: Tensor,
                 img_shapes: Sequence) -> Tuple[Tensor, List[tuple]]:
        """The detector's input heatmaps, for visualisation.

        Args:
            proposals (list[Tensor]): Per image [R_i, 4], image pixels.
            scores (list[Tensor]): Per image [R_i, C].
            queries (Tensor): [Q, 2] (image index, class column).
            img_shapes (Sequence): Per image (h, w).

        Returns:
            tuple: heatmaps [Q, len(modes), Hmax, Wmax] (normalized when
            ``normalize``, zero-padded, with the dtype and device of the
            detector's parameters) and the Q unpadded sizes (h, w).
        """
        inputs = self._inputs(proposals, scores, queries, img_shapes, True)
        return inputs['heatmaps'], inputs['sizes']

    # ------------------------------------------------------- train / test
    def loss(self, proposals: List[Tensor], scores: List[Tensor],
             queries: Tensor, targets: List[Tensor],
             img_shapes: Sequence) -> Dict[str, Tensor]:
        """Detector losses on base-class queries.

        Args:
            proposals (list[Tensor]): Per image [R_i, 4], image pixels.
            scores (list[Tensor]): Per image [R_i, C] recognition scores.
            queries (Tensor): [Q, 2] (image index, class column).
            targets (list[Tensor]): Q items, [K_q, 4] ground-truth boxes
                of the query's class in its image, image pixels.
            img_shapes (Sequence): Per image (h, w).

        Returns:
            dict: The detector's losses (``loss_cls``, ``loss_bbox``,
            ``loss_centerness`` for ``HeatmapFCOS``); with Q = 0 zeros that
            depend on every parameter.
        """
        inputs = self._inputs(proposals, scores, queries, img_shapes,
                              self.uses_heatmap)
        if len(targets) != len(inputs['metas']):
            raise ValueError(f'{len(targets)} target sets for '
                             f'{len(inputs["metas"])} queries')
        gts = []
        for boxes in targets:
            boxes = get_box_tensor(boxes).detach().float()
            gts.append(
                InstanceData(
                    bboxes=boxes / self.heatmap_stride,
                    labels=torch.zeros((len(boxes), ),
                                       dtype=torch.long,
                                       device=boxes.device)))
        return self.detector.loss(
            inputs['heatmaps'],
            gts,
            inputs['metas'],
            batch_boxes=inputs['batch_boxes'])

    @torch.no_grad()
    def predict(self, proposals: List[Tensor], scores: List[Tensor],
                queries: Tensor, img_shapes: Sequence) -> InstanceData:
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

        Returns:
            InstanceData: N >= Q rows, the first box of each query first
            (in query order), then the further ones: ``bboxes`` [N, 4]
            (image pixels), ``scores`` [N] (the detector's score, or the
            fallback's), ``from_fallback`` [N] bool, ``query_ids`` [N]
            (row of ``queries``), ``img_ids`` [N] and ``labels`` [N]
            (class columns). With ``max_per_query=1``, N = Q.
        """
        inputs = self._inputs(proposals, scores, queries, img_shapes,
                              self.uses_heatmap)
        queries = inputs['queries']
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
            results = self.detector.predict(
                inputs['heatmaps'],
                inputs['metas'],
                batch_boxes=inputs['batch_boxes'])
            img_ids = queries[:, 0].tolist()
            for q, (res, sel) in enumerate(zip(results, inputs['selected'])):
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
