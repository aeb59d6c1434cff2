"""COCO AP reported for all, base and novel classes."""
import os.path as osp
import tempfile
from collections import OrderedDict

from mmdet.datasets.api_wrappers import COCOeval
from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS
from mmengine.fileio import load
from mmengine.logging import MMLogger

STAT_NAMES = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


@METRICS.register_module()
class SplitCocoMetric(CocoMetric):
    """mmdet's :class:`CocoMetric` plus the same bbox AP per class split.

    Takes CocoMetric's arguments and inputs. Besides CocoMetric's
    ``bbox_mAP`` ... ``bbox_mAP_l`` over all classes, it returns
    ``bbox_base_<stat>`` and ``bbox_novel_<stat>``: COCOeval restricted to
    the categories of ``dataset_meta['base_classes']`` and
    ``['novel_classes']`` (same images, IoU thresholds and max detections).

    When none of the images has a ground-truth annotation (new images given
    to ``tools/test.py --out``), it logs ``no ground truth: not evaluated``
    and returns nothing (COCOeval would report -1 everywhere);
    ``format_only`` still writes the results.
    """

    def compute_metrics(self, results: list) -> dict:
        if not self.format_only and results and \
                not self._has_ground_truth(results):
            MMLogger.get_current_instance().warning(
                f'{type(self).__name__}: no ground truth: not evaluated (none '
                f'of the {len(results)} image(s) has an annotation)')
            return OrderedDict()
        eval_results = OrderedDict(super().compute_metrics(results))
        if self.format_only or 'bbox' not in self.metrics:
            return eval_results
        meta = self.dataset_meta
        classes = list(meta['classes'])
        splits = [(name, meta.get(f'{name}_classes') or ())
                  for name in ('base', 'novel')]
        splits = [(n, c) for n, c in splits if c]
        if not splits:
            return eval_results
        _, preds = zip(*results)
        with tempfile.TemporaryDirectory() as tmp:
            files = self.results2json(preds, osp.join(tmp, 'results'))
            dets = load(files['bbox'])
        logger = MMLogger.get_current_instance()
        if not dets:
            logger.warning('no detection: base/novel AP not computed')
            return eval_results
        coco_dt = self._coco_api.loadRes(dets)
        for name, split_classes in splits:
            logger.info(f'Evaluating bbox AP of the {name} classes...')
            cat_ids = [self.cat_ids[classes.index(c)] for c in split_classes]
            coco_eval = COCOeval(self._coco_api, coco_dt, 'bbox')
            coco_eval.params.catIds = cat_ids
            coco_eval.params.imgIds = self.img_ids
            coco_eval.params.maxDets = list(self.proposal_nums)
            coco_eval.params.iouThrs = self.iou_thrs
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
            for i, stat in enumerate(STAT_NAMES):
                eval_results[f'bbox_{name}_{stat}'] = float(
                    f'{coco_eval.stats[i]:.3f}')
        return eval_results

    def _has_ground_truth(self, results: list) -> bool:
        """Whether any image of ``results`` has an annotation: in the
        ``ann_file`` when there is one, else in the samples' instances."""
        if self._coco_api is None:
            return any(gt.get('anns') for gt, _ in results)
        img_ids = [pred['img_id'] for _, pred in results]
        return len(self._coco_api.get_ann_ids(img_ids=img_ids)) > 0
