"""The CPU demo: generate the dataset if absent, train, evaluate, print.

    python tools/demo.py [--full] [--config CONFIG] [--data-root DIR]
        [--num-train N] [--num-val M] [--seed 0] [--work-dir DIR]
        [--cfg-options KEY=VALUE ...]

By default a small set (480 training / 120 val images in
data/synthetic_demo/), which gives its result and pictures within about 10
minutes on 2 cores; ``--full`` is the larger run (2000 / 500 images in
data/synthetic/, about 40 minutes). The backbone weights are the shipped
checkpoints/small_vgg_crops.pth (made by tools/misc/pretrain_backbone.py,
which runs first when the file is not there, a few minutes). The config
defaults to the tiny cross-supervised DRN on the generated dataset
(configs/csod/drn_tiny_synthetic.py) and, where that is not there, to a
Fast R-CNN trained on the base classes through the same data path.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

from _bootstrap import REPO_ROOT

# crop-pretrained SmallVGG weights the small configs load (their
# backbone.init_cfg; the environment variable CSOD_PRETRAINED overrides it)
PRETRAINED = 'checkpoints/small_vgg_crops.pth'
# the default (small) demo and --full: data root and generated images
SIZES = dict(
    small=dict(data_root='data/synthetic_demo', num_train=480, num_val=120),
    full=dict(data_root='data/synthetic', num_train=2000, num_val=500))
DEFAULT_CONFIGS = [
    'configs/csod/drn_tiny_synthetic.py',
    'configs/fast_rcnn/fast_rcnn_small-vgg_synthetic-base.py',
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--config',
        help='config to train (default: the '
        'first of ' + ', '.join(DEFAULT_CONFIGS) + ' that exists)')
    parser.add_argument(
        '--full',
        action='store_true',
        help='the larger run: 2000 / 500 images in data/synthetic/')
    parser.add_argument(
        '--data-root',
        help='where the generated dataset lives (default: '
        'data/synthetic_demo/, with --full data/synthetic/)')
    parser.add_argument(
        '--num-train',
        type=int,
        help='training images to generate (default 480, --full 2000)')
    parser.add_argument(
        '--num-val',
        type=int,
        help='val images to generate (default 120, --full 500)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir', help='default: work_dirs/demo_<config>')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='passed to tools/train.py and tools/test.py')
    args = parser.parse_args(argv)
    size = SIZES['full' if args.full else 'small']
    for key, value in size.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def run(cmd):
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO_ROOT)


def main(argv=None):
    args = parse_args(argv)
    py = sys.executable
    config = args.config or next(
        c for c in DEFAULT_CONFIGS if osp.isfile(osp.join(REPO_ROOT, c)))
    name = osp.splitext(osp.basename(config))[0]
    work_dir = args.work_dir or osp.join('work_dirs', f'demo_{name}')
    data_root = args.data_root.rstrip('/') + '/'
    t0 = time.time()

    if not osp.isfile(
            osp.join(REPO_ROOT, data_root, 'annotations', 'val.json')):
        run([
            py, 'tools/dataset_converters/make_synthetic.py', '--out',
            data_root, '--num-train',
            str(args.num_train), '--num-val',
            str(args.num_val), '--seed',
            str(args.seed)
        ])
    else:
        print(f'using the dataset in {data_root}')
    pretrained = os.environ.get('CSOD_PRETRAINED', PRETRAINED)
    if not osp.isfile(osp.join(REPO_ROOT, pretrained)):
        # the small configs' backbones start from these weights
        run([py, 'tools/misc/pretrain_backbone.py', '--out', pretrained])
    else:
        print(f'using the pretrained backbone {pretrained}')
    t_data = time.time()

    data_opts = [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
    ] + list(args.cfg_options)
    run([
        py, 'tools/train.py', config, '--work-dir', work_dir, '--cfg-options',
        *data_opts
    ])
    t_train = time.time()

    with open(osp.join(REPO_ROOT, work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    metrics_file = osp.join(work_dir, 'test_metrics.json')
    run([
        py, 'tools/test.py', config, ckpt, '--work-dir', work_dir,
        '--metrics-out', metrics_file, '--cfg-options', *data_opts
    ])
    with open(osp.join(REPO_ROOT, metrics_file)) as f:
        # keys come as '<metric prefix>/<name>', e.g. 'pascal_voc/mAP'
        metrics = {k.split('/')[-1]: v for k, v in json.load(f).items()}

    print('\n' + '=' * 60)
    print(f'config      {config}')
    print(f'checkpoint  {ckpt}')
    print(f'time        data + backbone {t_data - t0:.0f} s, train '
          f'{t_train - t_data:.0f} s, test {time.time() - t_train:.0f} s')
    for key in ('mAP', 'base_mAP', 'novel_mAP', 'corloc', 'corloc_base',
                'corloc_novel'):
        if key in metrics:
            print(f'{key:<11} {100 * metrics[key]:.1f}')
    per_class = {
        k.split('_', 1)[1]: v
        for k, v in metrics.items() if k.startswith('AP50_')
    }
    if per_class:
        print('AP50 per class: ' + ', '.join(f'{c} {100 * v:.1f}'
                                             for c, v in per_class.items()))
    print(f'all metrics in {metrics_file}')
    if is_drn(config):
        vis_dir = osp.join(work_dir, 'vis')
        run([py, 'tools/misc/visualize_drn.py', config, ckpt, '--num', '2',
             '--out-dir', vis_dir, '--cfg-options', *data_opts])
        print(f'pictures (recognition | SCM | detection | heatmap) in '
              f'{vis_dir}/')
    print('=' * 60)
    return metrics


def is_drn(config: str) -> bool:
    from mmengine.config import Config
    return Config.fromfile(osp.join(REPO_ROOT, config)).model.type == 'DRN'


if __name__ == '__main__':
    main()
