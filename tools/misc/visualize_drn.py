"""Draw the paper's Figure 4 for chosen images of a DRN config's data.

    python tools/misc/visualize_drn.py CONFIG CHECKPOINT [--split val|train]
        [--indices 0 1 2 | --num 4] [--out-dir DIR] [--score-thr 0.3]
        [--heatmap-class NAME] [--draw-gt] [--cfg-options KEY=VALUE ...]

One PNG per image, ``DIR/<image stem>.png`` (default DIR:
``work_dirs/<config name>/vis/``), a row of panels: the recognition head's
top box per class of the image's labels, the SCM's pseudo box per novel
class (the recognition head's top box without an SCM), the detection
head's predictions above --score-thr (mmdet's DetLocalVisualizer), and the
SCM heatmap of one novel class. The paths are printed.
"""
import argparse
import copy
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
        choices=['val', 'train'],
        default='val',
        help='which dataloader\'s dataset (always with the test pipeline)')
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        '--indices', type=int, nargs='+', help='dataset indices to draw')
    which.add_argument(
        '--num',
        type=int,
        default=4,
        help='draw the first NUM images (default 4)')
    parser.add_argument(
        '--out-dir', help='default: work_dirs/<config name>/vis/')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='detection head predictions drawn above it')
    parser.add_argument(
        '--heatmap-class',
        help='class of the heatmap panel (default: the first novel class '
        'of each image)')
    parser.add_argument(
        '--draw-gt',
        action='store_true',
        help='the detection panel is ground truth | prediction')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value')
    return parser.parse_args(argv)


def build_dataset(cfg, split: str):
    """The split's dataset in test mode, with the test pipeline."""
    from mmdet.registry import DATASETS
    test_cfg = cfg.get('test_dataloader') or cfg.val_dataloader
    pipeline = copy.deepcopy(test_cfg.dataset.pipeline)
    ds_cfg = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
    while 'dataset' in ds_cfg and 'ann_file' not in ds_cfg:
        ds_cfg = ds_cfg.dataset  # unwrap RepeatDataset and the like
    ds_cfg.test_mode = True
    ds_cfg.pipeline = pipeline
    ds_cfg.pop('filter_cfg', None)
    return DATASETS.build(ds_cfg)


def main(argv=None):
    args = parse_args(argv)
    import mmcv
    import mmdet_csod  # noqa: F401  registers modules, safe loading
    import torch
    from _bootstrap import load_config
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    from mmdet_csod.models.detectors.drn import DRN
    from mmdet_csod.visualization.drn_figure import (draw_drn_figure,
                                                     drn_outputs)

    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))

    model = MODELS.build(cfg.model)
    if not isinstance(model, DRN):
        raise TypeError(f'{args.config} builds a {type(model).__name__}, '
                        'not a DRN')
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    torch.set_grad_enabled(False)

    dataset = build_dataset(cfg, args.split)
    classes = list(dataset.metainfo['classes'])
    palette = dataset.metainfo.get('palette')
    heatmap_class = None
    if args.heatmap_class is not None:
        if args.heatmap_class not in classes:
            raise ValueError(f'--heatmap-class {args.heatmap_class!r} is not '
                             f'one of {classes}')
        heatmap_class = classes.index(args.heatmap_class)
    indices = args.indices if args.indices is not None else list(
        range(min(args.num, len(dataset))))
    for idx in indices:
        if not -len(dataset) <= idx < len(dataset):
            raise IndexError(f'index {idx}: the {args.split} set has '
                             f'{len(dataset)} images')

    name = osp.splitext(osp.basename(args.config))[0]
    out_dir = args.out_dir or osp.join('work_dirs', name, 'vis')
    os.makedirs(out_dir, exist_ok=True)
    for idx in indices:
        data = dataset[idx]
        outputs = drn_outputs(model, data, heatmap_class)
        img_path = outputs['sample'].metainfo['img_path']
        image = mmcv.imread(img_path, channel_order='rgb')
        figure = draw_drn_figure(
            image,
            outputs,
            classes,
            palette=palette,
            score_thr=args.score_thr,
            draw_gt=args.draw_gt)
        out_file = osp.join(out_dir,
                            osp.splitext(osp.basename(img_path))[0] + '.png')
        mmcv.imwrite(figure[..., ::-1], out_file)
        print(out_file, flush=True)


if __name__ == '__main__':
    main()
