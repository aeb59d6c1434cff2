"""Correct Localization (CorLoc), the standard WSOD localization metric."""
import logging
from collections import OrderedDict
from typing import Optional, Sequence

import numpy as np
import torch
from mmdet.registry import METRICS
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from terminaltables import AsciiTable


def _as_tensor(x) -> torch.Tensor:
    """Boxes, scores or labels (Tensor, box type or array) as a CPU tensor."""
    x = get_box_tensor(x)
    return torch.as_tensor(x).detach().cpu()


@METRICS.register_module()
class CorLocMetric(BaseMetric):
    """CorLoc over images, per class and averaged per class split.

    CorLoc is measured, as in the weakly supervised detection literature, on
    images that have ground truth boxes (usually the training images, e.g.
    VOC07 trainval). For each image and each class with at least one
    ground-truth box of that class in ``gt_instances``, the class is
    *counted* for that image; it is *found* when the image's top-scoring
    predicted box of that class has IoU >= ``iou_thr`` with at least one of
    those boxes. An image with no predicted box of a counted class counts as
    not found. CorLoc of a class is found / counted over the images.

    Ground truth is read exactly as mmdet's ``VOCMetric`` reads it (the
    ``gt_instances`` of each data sample), so the two metrics see the same
    boxes. Boxes in ``ignored_instances`` (VOC ``difficult``, COCO
    ``iscrowd``) neither make a class counted nor are matched: the literature
    evaluates CorLoc on VOC trainval without difficult objects.
    ``pred_instances`` (``bboxes``, ``scores``, ``labels``) must be in the
    same coordinates as the ground truth (the original image, as VOCMetric
    assumes). IoU is mmdet's ``bbox_overlaps`` (no +1 on widths). When two
    predictions of a class tie on score, the earlier one is the top box.

    Results (keys before the ``prefix/`` that mmengine adds):

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
            class. Defaults to 0.5.
        collect_device (str): Device used to collect results across ranks,
            'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to
            ``default_prefix``, 'corloc' (so e.g. ``corloc/corloc_base``).
    """

    default_prefix: Optional[str] = 'corloc'

    def __init__(self,
                 iou_thr: float = 0.5,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not 0 < iou_thr <= 1:
            raise ValueError(f'iou_thr must be in (0, 1], got {iou_thr}')
        self.iou_thr = float(iou_thr)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Reduce each sample to its counted classes and whether each one was
        found; ``self.results`` gets (counted labels, found flags, whether
        the gt boxes fall outside ``ori_shape``) per image."""
        for data_sample in data_samples:
            gt = data_sample['gt_instances']
            gt_bboxes = _as_tensor(gt['bboxes']).float().reshape(-1, 4)
            gt_labels = _as_tensor(gt['labels']).long().reshape(-1)
            counted = torch.unique(gt_labels)  # sorted
            if len(counted) == 0:
                continue
            pred = data_sample['pred_instances']
            bboxes = _as_tensor(pred['bboxes']).float().reshape(-1, 4)
            scores = _as_tensor(pred['scores']).float().reshape(-1)
            labels = _as_tensor(pred['labels']).long().reshape(-1)
            # The top-scoring prediction of every counted class present.
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
            top_bboxes = bboxes[order[first]]
            # [num_top, num_gt]: a hit is IoU >= thr with a gt of its class.
            ious = bbox_overlaps(top_bboxes, gt_bboxes)
            same = top_labels[:, None] == gt_labels[None, :]
            hit = ((ious >= self.iou_thr) & same).any(dim=1)
            found = torch.zeros(len(counted), dtype=torch.bool)
            found[torch.searchsorted(counted, top_labels)] = hit
            self.results.append((counted.numpy(), found.numpy(),
                                 self._outside(gt_bboxes, data_sample)))

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
        num_outside = 0
        for labels, hits, outside in results:
            if len(labels) and labels.max() >= num_classes:
                raise ValueError(f'gt label {labels.max()} out of range for '
                                 f'{num_classes} classes')
            counted += np.bincount(labels, minlength=num_classes)
            found += np.bincount(labels[hits], minlength=num_classes)
            num_outside += outside
        if num_outside:
            print_log(
                f'CorLocMetric: in {num_outside} image(s) gt boxes extend '
                'beyond ori_shape; are they in resized coordinates (put '
                'LoadAnnotations after Resize in the test pipeline)?',
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
            f'\nCorLoc@{self.iou_thr}\n' + AsciiTable(rows).table,
            logger=logger)
