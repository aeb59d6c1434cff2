"""Recall of the proposals a config's dataset keeps, per class.

    python tools/analysis_tools/proposal_recall.py CONFIG
        [--split train|val] [--num-images N] [--max-num N|none]
        [--nms-iou T|none] [--iou-thr 0.5] [--out FILE.json]
        [--cfg-options KEY=VALUE ...]

Reads the split's images as the config's dataset reads them (the proposal
file, cleaned by ``CSODCocoDataset``: ``num_max_proposals`` and
``proposal_nms_iou``, which ``--max-num`` and ``--nms-iou`` replace; ``none``
for no limit / near-duplicates kept) and measures, against every box of the
annotation file (novel classes included, read for measuring only), the
percent of boxes that a kept proposal covers at IoU >= ``--iou-thr``, per
class and over all classes, the mean number of kept proposals at that IoU
a box (``positives_per_box``: the RoIs a detection head trained on the
boxes gets as positives for it), and the mean number of proposals kept an
image.
It also gives the share of the kept proposals whose IoU with an earlier kept
one is above 0.7 (``near_duplicate_pct``: the boxes that
``proposal_nms_iou=0.7`` would drop). Ignored boxes (``iscrowd``/``ignore``)
are not counted.

Prints a table; ``--out`` writes ``{"config", "split", "ann_file",
"proposal_file", "num_images", "num_max_proposals", "proposal_nms_iou",
"iou_thr", "boxes_per_image", "near_duplicate_pct", "recall": {"all": pct,
class: pct, ...}, "positives_per_box": {"all": mean, class: mean, ...},
"objects": {"all": n, class: n, ...}}``.
"""
import argparse
import json
import os
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
for _path in (REPO_ROOT, osp.join(REPO_ROOT, 'tools')):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from mmengine.config import DictAction  # noqa: E402

DUPLICATE_IOU = 0.7


def _or_none(convert, what):
    """An argparse ``type``: 'none' -> None, else ``convert(text)``, which
    must give a number above 0 (``what`` names it in the error)."""

    def parse(text):
        if text.lower() == 'none':
            return None
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or value <= 0:
            raise argparse.ArgumentTypeError(f'{what} or none, got {text!r}')
        return value

    return parse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file with a CSODCocoDataset')
    parser.add_argument(
        '--split',
        choices=['train', 'val'],
        default='train',
        help='the training images (default) or the test dataloader\'s')
    parser.add_argument(
        '--num-images', type=int, help='the first N images of the split')
    parser.add_argument(
        '--max-num',
        type=_or_none(int, 'an int >= 1'),
        default=argparse.SUPPRESS,
        help='proposals kept an image (default: the config\'s '
        'num_max_proposals; none: all)')
    parser.add_argument(
        '--nms-iou',
        type=_or_none(float, 'a number in (0, 1]'),
        default=argparse.SUPPRESS,
        help='near-duplicates dropped first (default: the config\'s '
        'proposal_nms_iou; none: kept)')
    parser.add_argument(
        '--iou-thr',
        type=float,
        default=0.5,
        help='a box is covered by a proposal at this IoU or more')
    parser.add_argument('--out', help='write the figures to this .json')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value')
    args = parser.parse_args(argv)
    if args.num_images is not None and args.num_images < 1:
        parser.error('--num-images must be >= 1')
    if not 0 < args.iou_thr <= 1:
        parser.error('--iou-thr must be in (0, 1]')
    return args


def measure(dataset, gt, iou_thr: float) -> dict:
    """The figures of the module docstring for a built dataset.

    Args:
        dataset (CSODCocoDataset): Its data infos hold the kept proposals.
        gt (dict): image id -> dict(bboxes [N, 4], labels [N], ignore [N])
            (``load_full_gt``).
        iou_thr (float): Coverage threshold.
    """
    import numpy as np
    import torch
    from mmdet.structures.bbox import bbox_overlaps

    from mmdet_csod.datasets.proposals import distinct_in_order
    classes = dataset.metainfo['classes']
    covered = np.zeros(len(classes), np.int64)
    objects = np.zeros(len(classes), np.int64)
    kept = duplicates = 0
    positives = np.zeros(len(classes), np.int64)
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        boxes = info['proposals']['bboxes']
        kept += len(boxes)
        duplicates += len(boxes) - len(distinct_in_order(boxes, DUPLICATE_IOU))
        img_gt = gt[info['img_id']]
        use = ~img_gt['ignore']
        labels = img_gt['labels'][use]
        np.add.at(objects, labels, 1)
        if len(boxes) == 0 or len(labels) == 0:
            continue
        ious = bbox_overlaps(
            torch.from_numpy(img_gt['bboxes'][use]), torch.from_numpy(boxes))
        over = (ious >= iou_thr).sum(dim=1).numpy()
        np.add.at(covered, labels[over > 0], 1)
        np.add.at(positives, labels, over)

    def pct(num, den):
        return round(100.0 * num / den, 1) if den else None

    recall = {'all': pct(covered.sum(), objects.sum())}
    recall.update({c: pct(covered[k], objects[k])
                   for k, c in enumerate(classes)})

    def ratio(num, den):
        return round(float(num) / den, 2) if den else None

    per_box = {'all': ratio(positives.sum(), objects.sum())}
    per_box.update({c: ratio(positives[k], objects[k])
                    for k, c in enumerate(classes)})
    counts = {'all': int(objects.sum())}
    counts.update({c: int(objects[k]) for k, c in enumerate(classes)})
    return dict(
        num_images=len(dataset),
        boxes_per_image=round(kept / max(len(dataset), 1), 1),
        near_duplicate_pct=pct(duplicates, kept),
        recall=recall,
        positives_per_box=per_box,
        objects=counts)


def main(argv=None):
    args = parse_args(argv)
    import mmdet_csod  # noqa: F401  registers modules
    from _bootstrap import load_config
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    from mmengine.registry import init_default_scope

    from mmdet_csod.evaluation.stage_diagnostics import (
        diagnostics_dataset_cfg, load_full_gt)

    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    ds_cfg = diagnostics_dataset_cfg(cfg, args.split, args.num_images)
    if 'proposal_file' not in ds_cfg:
        raise SystemExit(f'{args.config}: the {args.split} dataset has no '
                         'proposal_file to measure')
    ds_cfg['pipeline'] = []
    if 'max_num' in args:
        ds_cfg['num_max_proposals'] = args.max_num
    if 'nms_iou' in args:
        ds_cfg['proposal_nms_iou'] = args.nms_iou
    dataset = DATASETS.build(ds_cfg)
    ids = [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))]
    gt = load_full_gt(dataset.ann_file, dataset.metainfo['classes'], ids)
    figures = measure(dataset, gt, args.iou_thr)
    result = dict(
        config=args.config,
        split=args.split,
        ann_file=dataset.ann_file,
        proposal_file=dataset.proposal_file,
        num_max_proposals=dataset.num_max_proposals,
        proposal_nms_iou=dataset.proposal_nms_iou,
        iou_thr=args.iou_thr,
        **figures)
    print(f'{args.split}: {result["num_images"]} images of '
          f'{dataset.ann_file}; num_max_proposals '
          f'{result["num_max_proposals"]}, proposal_nms_iou '
          f'{result["proposal_nms_iou"]}: {result["boxes_per_image"]} '
          f'proposals an image, {result["near_duplicate_pct"]} % of them '
          f'near-duplicates (IoU > {DUPLICATE_IOU} with an earlier one)')
    print(f'| class | boxes | recall at IoU {args.iou_thr} (%) | '
          'proposals at that IoU a box |')
    print('| --- | --- | --- | --- |')
    for name, value in result['recall'].items():
        shown = '-' if value is None else f'{value:.1f}'
        per_box = result['positives_per_box'][name]
        per_box = '-' if per_box is None else f'{per_box:.2f}'
        print(f'| {name} | {result["objects"][name]} | {shown} | '
              f'{per_box} |')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'written: {args.out}')
    return result


if __name__ == '__main__':
    main()
