"""VOC-style mAP reported for all, base and novel classes."""
from collections import OrderedDict

import numpy as np
from mmdet.evaluation import VOCMetric, eval_map
from mmdet.registry import METRICS
from mmengine.logging import MMLogger


@METRICS.register_module()
class SplitVOCMetric(VOCMetric):
    """mmdet's :class:`VOCMetric` with AP also averaged per class split.

    Takes the same arguments and inputs as ``VOCMetric``. With
    ``metric='mAP'`` it returns, besides ``mAP`` and ``AP50``-style keys over
    all classes, ``base_mAP`` and ``novel_mAP`` over
    ``dataset_meta['base_classes']`` and ``['novel_classes']`` (the mean, over
    IoU thresholds, of the mean AP of that split's classes that have ground
    truth), and ``AP50_<class>`` per class. Other metrics are VOCMetric's.

    Images without any ground-truth box (a folder of new images given to
    ``tools/test.py --out``) leave AP undefined: when no image has one, the
    metric logs ``no ground truth: not evaluated`` and returns nothing
    instead of a NaN mAP.
    """

    def compute_metrics(self, results: list) -> dict:
        if self.metric != 'mAP':
            return super().compute_metrics(results)
        logger = MMLogger.get_current_instance()
        classes = list(self.dataset_meta['classes'])
        splits = dict(
            base=[
                classes.index(c)
                for c in self.dataset_meta.get('base_classes', classes)
            ],
            novel=[
                classes.index(c)
                for c in self.dataset_meta.get('novel_classes', ())
            ])
        gts, preds = zip(*results)
        if not any(len(gt['labels']) for gt in gts):
            logger.warning(
                f'{type(self).__name__}: no ground truth: not evaluated (none '
                f'of the {len(gts)} image(s) has a ground-truth box)')
            return OrderedDict()
        out = OrderedDict()
        per_split = {name: [] for name in ('all', *splits)}
        for iou_thr in self.iou_thrs:
            logger.info(f'\n{"-" * 15}iou_thr: {iou_thr}{"-" * 15}')
            _, per_class = eval_map(
                preds,
                gts,
                scale_ranges=self.scale_ranges,
                iou_thr=iou_thr,
                dataset=classes,
                logger=logger,
                eval_mode=self.eval_mode,
                use_legacy_coordinate=True)
            ap = np.array([r['ap'] for r in per_class], dtype=np.float64)
            has_gt = np.array([r['num_gts'] > 0 for r in per_class])
            for name, labels in [('all', list(range(len(classes)))),
                                 *splits.items()]:
                sel = [i for i in labels if has_gt[i]]
                per_split[name].append(
                    float(ap[sel].mean()) if sel else float('nan'))
            out[f'AP{int(iou_thr * 100):02d}'] = round(per_split['all'][-1], 4)
            if iou_thr == self.iou_thrs[0]:
                for i, c in enumerate(classes):
                    out[f'AP{int(iou_thr * 100):02d}_{c}'] = round(
                        float(ap[i]), 4)
        out['mAP'] = float(np.mean(per_split['all']))
        for name in splits:
            if splits[name]:
                out[f'{name}_mAP'] = float(np.mean(per_split[name]))
        out.move_to_end('mAP', last=False)
        return out
