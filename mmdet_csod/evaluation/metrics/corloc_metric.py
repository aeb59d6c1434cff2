"""Correct Localization (CorLoc), the standard WSOD localization metric."""
import logging
from collections import OrderedDict
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.registry import METRICS
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement
from terminaltables import AsciiTable

CONVENTIONS = ('project', 'voc')

# The data sample field a model fills, when asked, with every proposal's
# boxes and class scores before NMS (see CorLocMetric).
PROPOSALS_FIELD = 'proposal_instances'


def _tensor(x) -> torch.Tensor:
    """Boxes, scores or labels (Tensor, box type or array) as a tensor."""
    return torch.as_tensor(get_box_tensor(x)).detach()


def _as_tensor(x) -> torch.Tensor:
    """Boxes, scores or labels (Tensor, box type or array) as a CPU tensor."""
    return _tensor(x).cpu()


def _field(data_sample: dict, key: str) -> Optional[dict]:
    """``data_sample[key]`` as a dict (as the Evaluator packs it), or None
    when absent or without fields."""
    value = data_sample.get(key)
    if isinstance(value, BaseDataElement):
        value = value.to_dict()
    return value or None


def bbox_overlaps_voc(bboxes1: torch.Tensor,
                      bboxes2: torch.Tensor) -> torch.Tensor:
    """[N, 4] x [M, 4] -> [N, M] IoU with the VOC devkit's +1 on widths and
    heights (pixel-inclusive boxes), in float64, as the WSOD peers compute it
    (``dis_eval`` of OICR / pcl.pytorch / wetectron)."""
    a = bboxes1.double()[:, None, :]
    b = bboxes2.double()[None, :, :]
    iw = (torch.minimum(a[..., 2], b[..., 2]) -
          torch.maximum(a[..., 0], b[..., 0]) + 1).clamp(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) -
          torch.maximum(a[..., 1], b[..., 1]) + 1).clamp(min=0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    return inter / (area_a + area_b - inter)


@METRICS.register_module()
class CorLocMetric(BaseMetric):
    """CorLoc over images, per class and averaged per class split.

    CorLoc is measured, as in the weakly supervised detection literature, on
    images that have ground truth boxes (usually the training images, e.g.
    VOC07 trainval). For each image and each class with at least one
    ground-truth box of that class, the class is *counted* for that image;
    it is *found* when the image's top box of that class overlaps at least
    one of those boxes enough. An image with no box of a counted class
    counts as not found. CorLoc of a class is found / counted over the
    images.

    Two conventions, chosen by ``convention``:

    - ``'project'`` (the default): IoU is mmdet's ``bbox_overlaps`` (no
      ``+1`` on widths) and a class is found at IoU ``>= iou_thr``; boxes in
      ``ignored_instances`` (VOC ``difficult``, COCO ``iscrowd``) neither
      make a class counted nor are matched; the top box of a class is the
      top-scoring box of ``pred_instances``, i.e. after NMS (its
      ``score_thr`` and ``max_per_img`` included).
    - ``'voc'`` (the WSOD peers: the ``dis_eval`` of OICR, pcl.pytorch,
      wetectron): IoU with the VOC devkit's ``+1`` on widths and heights
      (:func:`bbox_overlaps_voc`) and found at IoU ``> iou_thr``; boxes in
      ``ignored_instances`` are ground truth like the others (difficult
      objects counted and matched); the top box of a class is the proposal
      with the highest raw score of that class, before NMS, read from the
      data sample field ``proposal_instances``: ``bboxes`` [R, 4] (or per
      class [R, C * 4]) in original image coordinates and ``scores``
      [R, C] over the dataset's classes (no background), i.e. what a
      detector's ``predict_proposal_scores`` returns; the model has to put
      it in its data samples. A sample without ``proposal_instances`` falls
      back to its ``pred_instances`` (the same box unless ``score_thr`` or
      ``max_per_img`` dropped every box of the class), and the number of
      such images is logged as a warning. ``'voc'`` is meant for VOC data
      (converted by :mod:`mmdet_csod.datasets.converters.voc`, whose boxes
      are the XML's numbers), where ``ignored_instances`` are the difficult
      objects; on COCO they are ``iscrowd`` regions.

    ``'project'`` never reads ``proposal_instances``.

    Ground truth is read exactly as mmdet's ``VOCMetric`` reads it (the
    ``gt_instances``, and for ``'voc'`` the ``ignored_instances``, of each
    data sample), so the two metrics see the same boxes. Predicted boxes
    must be in the same coordinates as the ground truth (the original image,
    as VOCMetric assumes). When two boxes of a class tie on score, the
    earlier one is the top box.

    Results (keys before the ``prefix/`` that mmengine adds; the same for
    both conventions, so give one of two side-by-side metrics another
    ``prefix``):

    - ``corloc``: the mean over the classes counted at least once, in
      [0, 1]; NaN (with a warning) when no class was ever counted.
    - ``corloc_base`` / ``corloc_novel``: the same mean over the counted
      classes of ``dataset_meta['base_classes']`` / ``['novel_classes']``;
      present when that key exists and at least one of its classes was
      counted.
    - ``corloc_<class>``: per class, for each class counted at least once.

    A per-class table (counted, found, CorLoc) is logged to the current
    :class:`MMLogger`.

    Args:
        iou_thr (float): IoU a top box needs with a ground-truth box of its
            class (at least, or for ``'voc'`` more than). Defaults to 0.5.
        convention (str): ``'project'`` or ``'voc'`` (above). Defaults to
            ``'project'``.
        collect_device (str): Device used to collect results across ranks,
            'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to
            ``default_prefix``, 'corloc' (so e.g. ``corloc/corloc_base``).

    Examples:
        >>> # both conventions side by side on VOC07 trainval
        >>> test_evaluator = [
        >>>     dict(type='CorLocMetric'),
        >>>     dict(type='CorLocMetric', convention='voc',
        >>>          prefix='corloc_voc')]
    """

    default_prefix: Optional[str] = 'corloc'

    def __init__(self,
                 iou_thr: float = 0.5,
                 convention: str = 'project',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not 0 < iou_thr <= 1:
            raise ValueError(f'iou_thr must be in (0, 1], got {iou_thr}')
        if convention not in CONVENTIONS:
            raise ValueError(f'convention must be one of {CONVENTIONS}, got '
                             f'{convention!r}')
        self.iou_thr = float(iou_thr)
        self.convention = convention

    @property
    def _voc(self) -> bool:
        return self.convention == 'voc'

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Reduce each sample to its counted classes and whether each one was
        found; ``self.results`` gets (counted labels, found flags, whether
        the gt boxes fall outside ``ori_shape``, whether ``'voc'`` fell back
        to ``pred_instances``) per image."""
        for data_sample in data_samples:
            gt_bboxes, gt_labels = self._ground_truth(data_sample)
            counted = torch.unique(gt_labels)  # sorted
            if len(counted) == 0:
                continue
            proposals = _field(data_sample, PROPOSALS_FIELD) \
                if self._voc else None
            if proposals is not None:
                top_labels, top_bboxes = self._top_proposals(
                    proposals, counted, data_sample)
            else:
                top_labels, top_bboxes = self._top_detections(
                    data_sample['pred_instances'], counted)
            # [num_top, num_gt]: a hit overlaps a gt of its class enough.
            same = top_labels[:, None] == gt_labels[None, :]
            if self._voc:
                ious = bbox_overlaps_voc(top_bboxes, gt_bboxes)
                hit = ((ious > self.iou_thr) & same).any(dim=1)
            else:
                ious = bbox_overlaps(top_bboxes, gt_bboxes)
                hit = ((ious >= self.iou_thr) & same).any(dim=1)
            found = torch.zeros(len(counted), dtype=torch.bool)
            found[torch.searchsorted(counted, top_labels)] = hit
            outside = self._outside(gt_bboxes, data_sample)
            fallback = self._voc and proposals is None
            self.results.append(
                (counted.numpy(), found.numpy(), outside, fallback))

    def _ground_truth(self,
                      data_sample: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        """[N, 4] boxes and [N] labels: ``gt_instances``, and for ``'voc'``
        the ``ignored_instances`` (difficult objects) too."""
        parts = [data_sample['gt_instances']]
        ignored = _field(data_sample, 'ignored_instances')
        if self._voc and ignored is not None:
            parts.append(ignored)
        bboxes = torch.cat(
            [_as_tensor(p['bboxes']).float().reshape(-1, 4) for p in parts])
        labels = torch.cat(
            [_as_tensor(p['labels']).long().reshape(-1) for p in parts])
        return bboxes, labels

    @staticmethod
    def _top_detections(
            pred: dict,
            counted: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The top-scoring box of ``pred_instances`` of every counted class
        that has one: labels [K] (sorted) and boxes [K, 4]."""
        bboxes = _as_tensor(pred['bboxes']).float().reshape(-1, 4)
        scores = _as_tensor(pred['scores']).float().reshape(-1)
        labels = _as_tensor(pred['labels']).long().reshape(-1)
        keep = torch.isin(labels, counted)
        bboxes, scores, labels = bboxes[keep], scores[keep], labels[keep]
        order = torch.argsort(scores, descending=True, stable=True)
        labels_sorted = labels[order]
        top_labels, inverse = torch.unique(
            labels_sorted, sorted=True, return_inverse=True)
        first = torch.full((len(top_labels), ),
                           len(labels_sorted),
                           dtype=torch.long)
        first.scatter_reduce_(
            0,
            inverse,
            torch.arange(len(labels_sorted)),
            reduce='amin',
            include_self=True)
        return top_labels, bboxes[order[first]]

    @staticmethod
    def _top_proposals(proposals: dict, counted: torch.Tensor,
                       data_sample: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        """The arg-max proposal of every counted class in the raw scores of
        ``proposal_instances``: labels [K] (sorted) and boxes [K, 4]. The
        arg-max runs where the scores are (e.g. the GPU); only the chosen
        boxes are copied."""
        scores = _tensor(proposals['scores'])
        bboxes = _tensor(proposals['bboxes'])
        where = data_sample.get('img_path', 'an image')
        if scores.dim() != 2 or bboxes.dim() != 2 or \
                len(bboxes) != len(scores) or \
                bboxes.shape[1] not in (4, 4 * scores.shape[1]):
            raise ValueError(
                f'{where}: {PROPOSALS_FIELD} needs bboxes [R, 4] or '
                f'[R, C * 4] and scores [R, C], got bboxes '
                f'{list(bboxes.shape)} and scores {list(scores.shape)}')
        num_classes = scores.shape[1]
        if counted.max() >= num_classes:
            raise ValueError(
                f'{where}: gt label {int(counted.max())} but '
                f'{PROPOSALS_FIELD}.scores has only {num_classes} class '
                'columns (scores [R, C] over the dataset classes, without '
                'background)')
        if len(scores) == 0:
            return counted[:0], torch.zeros((0, 4))
        cols = counted.to(scores.device)
        best = scores[:, cols].argmax(dim=0)  # the first maximum on ties
        if bboxes.shape[1] == 4:
            top = bboxes[best]
        else:
            top = bboxes.reshape(len(bboxes), num_classes, 4)[best, cols]
        return counted, top.float().cpu()

    @staticmethod
    def _outside(gt_bboxes: torch.Tensor, data_sample: dict) -> bool:
        """Whether gt boxes reach well beyond the original image, the sign of
        ground truth left in resized coordinates."""
        ori_shape = data_sample.get('ori_shape')
        if ori_shape is None:
            return False
        h, w = ori_shape[:2]
        return bool((gt_bboxes[:, 2] > w + 1).any()
                    or (gt_bboxes[:, 3] > h + 1).any())

    def compute_metrics(self, results: list) -> dict:
        logger: MMLogger = MMLogger.get_current_instance()
        classes = list(self.dataset_meta['classes'])
        num_classes = len(classes)
        counted = np.zeros(num_classes, np.int64)
        found = np.zeros(num_classes, np.int64)
        num_outside = num_fallback = 0
        for labels, hits, outside, fallback in results:
            if len(labels) and labels.max() >= num_classes:
                raise ValueError(f'gt label {labels.max()} out of range for '
                                 f'{num_classes} classes')
            counted += np.bincount(labels, minlength=num_classes)
            found += np.bincount(labels[hits], minlength=num_classes)
            num_outside += outside
            num_fallback += fallback
        if num_outside:
            print_log(
                f'CorLocMetric: in {num_outside} image(s) gt boxes extend '
                'beyond ori_shape; are they in resized coordinates (put '
                'LoadAnnotations after Resize in the test pipeline)?',
                logger=logger,
                level=logging.WARNING)
        if num_fallback:
            print_log(
                f"CorLocMetric(convention='voc'): {num_fallback} of "
                f'{len(results)} image(s) have no {PROPOSALS_FIELD}, so '
                'their top boxes are those of pred_instances, after NMS '
                '(a class whose boxes score_thr or max_per_img dropped is '
                'not found); for the arg-max proposal before NMS have the '
                f'model put its raw proposal scores in {PROPOSALS_FIELD}',
                logger=logger,
                level=logging.WARNING)
        with np.errstate(invalid='ignore', divide='ignore'):
            corloc = found / counted  # NaN where never counted

        splits = OrderedDict()
        for name in ('base', 'novel'):
            key = f'{name}_classes'
            if key in self.dataset_meta:
                splits[name] = [
                    classes.index(c) for c in self.dataset_meta[key]
                ]

        def mean(idx) -> float:
            idx = [i for i in idx if counted[i] > 0]
            return float(corloc[idx].mean()) if idx else float('nan')

        out = OrderedDict()
        out['corloc'] = mean(range(num_classes))
        if np.isnan(out['corloc']):
            print_log(
                'CorLocMetric: no image has a ground-truth box; CorLoc is '
                'undefined',
                logger=logger,
                level=logging.WARNING)
        for name, idx in splits.items():
            value = mean(idx)
            if not np.isnan(value):
                out[f'corloc_{name}'] = value
        for i, c in enumerate(classes):
            if counted[i] > 0:
                out[f'corloc_{c}'] = float(corloc[i])
        self._log_table(classes, splits, counted, found, corloc, out, logger)
        return out

    def _title(self) -> str:
        if self._voc:
            return (f'CorLoc (voc: IoU > {self.iou_thr}, +1 widths, '
                    'difficult counted, arg-max proposal before NMS)')
        return (f'CorLoc (project: IoU >= {self.iou_thr}, difficult '
                'ignored, top box after NMS)')

    def _log_table(self, classes, splits, counted, found, corloc, out,
                   logger) -> None:
        split_of = {i: name for name, idx in splits.items() for i in idx}
        rows = [['class', 'split', 'counted', 'found', 'corloc']]
        for i, c in enumerate(classes):
            rows.append([
                c,
                split_of.get(i, ''), counted[i], found[i],
                f'{corloc[i]:.4f}' if counted[i] else '-'
            ])
        for key in ('corloc', *(f'corloc_{n}' for n in splits)):
            rows.append([
                key.replace('corloc', 'mean'), '', '', '',
                f'{out[key]:.4f}' if key in out else '-'
            ])
        print_log(
            f'\n{self._title()}\n' + AsciiTable(rows).table, logger=logger)
