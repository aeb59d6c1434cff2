"""See the chain: what each stage of a DRN makes of the images.

    python tools/analysis_tools/diagnose_drn.py CONFIG CHECKPOINT
        [--split train|val] [--num-images N] [--out FILE.json]
        [--device cpu] [--cfg-options KEY=VALUE ...]

Runs ``DRN.predict_stages`` on the split's images (default: the training
images, the config's ``train_dataloader.dataset`` data with the test
pipeline; ``--num-images``: the first N) and measures, against the full
ground truth of the annotation file (novel boxes included, read for
measuring only), for base and novel classes, over all (image, present
class) pairs and over those whose object touches or overlaps another object
(``touching``) or stands free (``free``):

- ``mil``: the top box of the recognition head's MIL stream (WSDDN's
  scores, learnt from the image labels alone; the seed of the first
  refinement branch), with the figures of ``rec``;
- ``rec``: the recognition head's top box (``corloc``, ``mean_iou``,
  ``count``, ``area_ratio``: percent of pairs with IoU >= 0.5, mean best
  IoU in percent, pairs measured, median area of the box over its
  object's: above 1 too large, below 1 a part);
- ``scm``: the SCM's box (the same, plus ``fallback``: percent of pairs
  where the SCM gave the recognition head's box back);
- ``pseudo``: the pseudo boxes the detection head gets (the top-scoring one
  per class; plus ``fallback`` and ``boxes_per_pair``);
- ``det``: the detection head's top prediction per class and its ``ap50``
  (VOC AP at IoU 0.5, area under the PR curve).

Prints a table; ``--out`` writes
``{"config", "checkpoint", "split", "num_images", "stages": {stage:
{group: {config: {figure: value}}}}}`` (value null where no pair).
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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file of a DRN')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--split',
        choices=['train', 'val'],
        default='train',
        help='the training images (default) or the test dataloader\'s')
    parser.add_argument(
        '--num-images',
        type=int,
        help='measure the first N images of the split (default: all)')
    parser.add_argument('--out', help='write the figures to this .json')
    parser.add_argument(
        '--device',
        help='torch device (default: cuda when available, else cpu)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.num_images is not None and args.num_images < 1:
        raise SystemExit('--num-images must be >= 1')
    import mmdet_csod  # noqa: F401  registers modules, safe loading
    import torch
    from _bootstrap import load_config
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    from mmdet_csod.evaluation.stage_diagnostics import (
        build_diagnostics_loader, diagnostics_dataset_cfg, format_table,
        run_stage_diagnostics)
    from mmdet_csod.models.detectors.drn import DRN

    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))

    model = MODELS.build(cfg.model)
    if not isinstance(model, DRN):
        raise SystemExit(f'{args.config} builds a {type(model).__name__}, '
                         'not a DRN: the stage diagnostics need the '
                         "DRN's recognition head -> SCM -> detection chain")
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model.to(device)
    model.eval()

    ds_cfg = diagnostics_dataset_cfg(cfg, args.split, args.num_images)
    test_loader = cfg.get('test_dataloader') or cfg.val_dataloader
    loader, gt = build_diagnostics_loader(
        ds_cfg,
        batch_size=test_loader.get('batch_size', 1),
        num_workers=test_loader.get('num_workers', 0))
    print(f'{args.split}: {len(loader.dataset)} images of '
          f'{loader.dataset.ann_file}', flush=True)
    diag = run_stage_diagnostics(model, loader, gt)
    results = diag.compute()
    print(format_table(results), flush=True)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(
                dict(
                    config=args.config,
                    checkpoint=args.checkpoint,
                    split=args.split,
                    num_images=diag.num_images,
                    stages=results,
                    per_class={
                        stage: {
                            loader.dataset.metainfo['classes'][c]: figs
                            for c, figs in by_label.items()
                        }
                        for stage, by_label in
                        diag.compute_per_class().items()
                    }),
                f,
                indent=2)
        print(f'written: {args.out}', flush=True)
    return results


if __name__ == '__main__':
    main()
