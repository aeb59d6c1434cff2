"""What the SCM's detector sees: heatmaps, or the selected boxes themselves.

An inputs part turns the selected proposals of Q queries (see
:meth:`SpatialCorrelationModule.select`) into a typed batch for the
detector, chosen by ``type`` in the SCM's ``inputs`` config (mmdet's
TASK_UTILS):

- :class:`HeatmapInputs` paints a heatmap per query with
  :func:`synthesize_heatmap` (:class:`HeatmapFCOS`'s input);
- :class:`BoxInputs` passes the boxes and their scores
  (:class:`ProposalFCRegressor`'s input).

A detector declares the batch type it takes (``input_type``) and the inputs
it defaults to (``default_inputs``); the SCM checks that they fit.
"""
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from mmdet.registry import TASK_UTILS
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor

from ..utils import synthesize_heatmap
from ..utils.heatmap import HEATMAP_MODES


@dataclass
class QueryBatch:
    """What every SCM batch of Q queries holds: their selected boxes.

    Attributes:
        queries (Tensor): [Q, 2] long (image index, class column).
        selected (list[InstanceData]): Q items, ``bboxes`` [n_q, 4] in
            image pixels and ``scores`` [n_q], by decreasing score.
        boxes (list[InstanceData]): The same boxes in heatmap pixels
            (divided by the heatmap stride), with their ``scores``.
        sizes (list[tuple]): Q unpadded heatmap sizes (h, w).
        metas (list[dict]): Q metas: ``img_shape`` / ``ori_shape`` (the
            unpadded heatmap (h, w)), ``pad_shape`` / ``batch_input_shape``
            (the batch's (Hmax, Wmax)), ``scale_factor`` (1, 1) and
            ``heatmap_stride``.
    """
    queries: Tensor
    selected: InstanceList
    boxes: InstanceList
    sizes: List[Tuple[int, int]]
    metas: List[dict]

    @property
    def detector_inputs(self):
        """What the detector's ``loss`` / ``predict`` take first."""
        raise NotImplementedError


@dataclass
class QueryBoxes(QueryBatch):
    """The batch of a detector that takes the boxes themselves."""

    @property
    def detector_inputs(self) -> InstanceList:
        """The Q ``boxes`` (heatmap pixels) with their scores."""
        return self.boxes


@dataclass
class QueryHeatmaps(QueryBatch):
    """:class:`QueryBatch` and the heatmap painted from each query's boxes.

    Attributes:
        heatmaps (Tensor): [Q, len(modes), Hmax, Wmax], query q in
            ``[:, :, :h_q, :w_q]``, zero-padded.
        modes (tuple[str]): The channels, from 'max', 'sum', 'num'.
    """
    heatmaps: Tensor
    modes: Tuple[str, ...]

    @property
    def detector_inputs(self) -> Tensor:
        """The ``heatmaps`` [Q, C_h, Hmax, Wmax]."""
        return self.heatmaps


def fixed_detector_arg(cfg: dict, key: str, value, what: str) -> dict:
    """``cfg`` with ``cfg[key] = value``, an inputs part's fact about the
    detector; a different value already given is an error naming
    ``what``."""
    given = cfg.get(key, value)
    if given != value:
        raise ValueError(f'detector {key}={given} does not match {what}')
    cfg[key] = value
    return cfg


def _metas(sizes: Sequence[Tuple[int, int]], stride: float) -> List[dict]:
    pad_h = max([h for h, _ in sizes], default=0)
    pad_w = max([w for _, w in sizes], default=0)
    return [
        dict(
            img_shape=size,
            ori_shape=size,
            pad_shape=(pad_h, pad_w),
            batch_input_shape=(pad_h, pad_w),
            scale_factor=(1., 1.),
            heatmap_stride=stride) for size in sizes
    ]


class BaseSCMInputs(metaclass=ABCMeta):
    """An SCM inputs part: the batch type it gives (``batch_type``), how it
    sets up the detector's config and its call (see :class:`BoxInputs`)."""

    batch_type = QueryBatch

    def adapt_detector(self, cfg: dict) -> dict:
        """The detector config, as given."""
        return dict(cfg)

    #: whether ``__call__`` needs the image features (``feats``)
    needs_feats = False
    #: whether ``__call__`` needs the other classes' boxes (``context``,
    #: :func:`~.context_heatmap_inputs.context_selection`)
    needs_context = False

    def feats_of(self, batch_inputs: Tensor, x) -> Optional[Tensor]:
        """What a model passes this part as ``feats``, from its
        preprocessed images ``batch_inputs`` [B, 3, H, W] and backbone
        (neck) features ``x``: nothing for the heatmaps and boxes alone."""
        return None

    @abstractmethod
    def __call__(self,
                 queries: Tensor,
                 selected: InstanceList,
                 sizes: Sequence[Tuple[int, int]],
                 stride: float,
                 like: Tensor,
                 feats: Optional[Tensor] = None,
                 context: Optional[InstanceList] = None) -> QueryBatch:
        """The ``batch_type`` batch of the queries (``feats``: the
        images' feature map [B, C, Hf, Wf], ``context``: Q items of the
        other classes' boxes and scores, for parts that use them)."""

    @staticmethod
    def _batch_fields(queries: Tensor, selected: InstanceList,
                      sizes: Sequence[Tuple[int, int]], stride: float) -> dict:
        """The :class:`QueryBatch` fields: boxes in heatmap pixels, metas."""
        boxes = [
            InstanceData(bboxes=sel.bboxes / stride, scores=sel.scores)
            for sel in selected
        ]
        return dict(
            queries=queries,
            selected=selected,
            boxes=boxes,
            sizes=list(sizes),
            metas=_metas(sizes, stride))


@TASK_UTILS.register_module()
class BoxInputs(BaseSCMInputs):
    """The selected boxes and scores of each query, in heatmap pixels.

    The input of detectors that regress from the boxes themselves (the
    paper's fc baseline, :class:`ProposalFCRegressor`): nothing is painted.
    """

    batch_type = QueryBoxes

    def __call__(self,
                 queries: Tensor,
                 selected: InstanceList,
                 sizes: Sequence[Tuple[int, int]],
                 stride: float,
                 like: Tensor,
                 feats: Optional[Tensor] = None,
                 context: Optional[InstanceList] = None) -> QueryBoxes:
        """The batch of the queries.

        Args:
            queries (Tensor): [Q, 2] (image index, class column).
            selected (list[InstanceData]): Q items, ``bboxes`` [n_q, 4]
                (image pixels) and ``scores`` [n_q].
            sizes (Sequence[tuple]): Q heatmap sizes (h, w).
            stride (float): Image pixels per heatmap pixel.
            like (Tensor): A tensor of the detector's dtype and device.
            feats (Tensor, optional): Not used.
            context (list[InstanceData], optional): Not used.

        Returns:
            QueryBoxes: the batch.
        """
        return QueryBoxes(
            **self._batch_fields(queries, selected, sizes, stride))


@TASK_UTILS.register_module()
class HeatmapInputs(BaseSCMInputs):
    """A class-agnostic heatmap of each query's selected boxes.

    :func:`synthesize_heatmap` of the boxes (heatmap pixels) and scores,
    one channel per mode, of the query's heatmap size; with ``normalize``
    every channel is divided by its maximum over the heatmap, so that the
    input depends neither on the scale of the recognition scores (which
    differs between classes and drifts during training) nor on the number
    of boxes. Only the queries are looped over.

    Args:
        modes (Sequence[str]): Heatmap channels, from 'max', 'sum', 'num'
            (Table 3a; the paper: max and sum).
        normalize (bool): Divide each channel by its maximum.
    """

    batch_type = QueryHeatmaps

    def __init__(self,
                 modes: Sequence[str] = ('max', 'sum'),
                 normalize: bool = True) -> None:
        modes = tuple(modes)
        if not modes or any(m not in HEATMAP_MODES for m in modes):
            raise ValueError(f'modes must be a non-empty sequence of '
                             f'{HEATMAP_MODES}, got {modes}')
        self.modes = modes
        self.normalize = normalize

    @property
    def num_channels(self) -> int:
        return len(self.modes)

    def adapt_detector(self, cfg: dict) -> dict:
        """The detector config with ``in_channels`` = the heatmap channels
        (an ``in_channels`` given otherwise is an error)."""
        return fixed_detector_arg(
            dict(cfg), 'in_channels', self.num_channels,
            f'the {self.num_channels} input channels (heatmap modes '
            f'{self.modes})')

    def __call__(self,
                 queries: Tensor,
                 selected: InstanceList,
                 sizes: Sequence[Tuple[int, int]],
                 stride: float,
                 like: Tensor,
                 feats: Optional[Tensor] = None,
                 context: Optional[InstanceList] = None) -> QueryHeatmaps:
        """The batch of the queries (arguments of :class:`BoxInputs`;
        ``feats`` and ``context`` not used); the heatmaps have ``like``'s
        dtype and device."""
        fields = self._batch_fields(queries, selected, sizes, stride)
        heatmaps = self.paint(fields['boxes'], sizes, self.modes, like)
        return QueryHeatmaps(**fields, heatmaps=heatmaps, modes=self.modes)

    def paint(self, boxes: InstanceList, sizes: Sequence[Tuple[int, int]],
              modes: Sequence[str], like: Tensor) -> Tensor:
        """[Q, len(modes), Hmax, Wmax] heatmaps of Q sets of scored boxes
        (``bboxes`` in heatmap pixels), query q's in ``[:, :, :h_q,
        :w_q]`` and zero-padded, each channel divided by its maximum with
        ``normalize``; ``like``'s dtype and device. Only the queries are
        looped over."""
        pad_h = max([h for h, _ in sizes], default=0)
        pad_w = max([w for _, w in sizes], default=0)
        heatmaps = like.new_zeros((len(sizes), len(modes), pad_h, pad_w))
        for q, (item, size) in enumerate(zip(boxes, sizes)):
            if not len(item):
                continue
            hm = synthesize_heatmap(item.bboxes.to(like),
                                    item.scores.to(like), size, modes)
            if self.normalize:
                peak = hm.flatten(1).amax(dim=1).clamp(min=1e-12)
                hm = hm / peak[:, None, None]
            heatmaps[q, :, :size[0], :size[1]] = hm
        return heatmaps
