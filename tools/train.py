"""Train a detector from a config (MMDetection's command-line interface).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--allow-partial] [--cfg-options KEY=VALUE ...]
        [--launcher pytorch]

Before the first iteration: the model's class split must be every dataset's
(ClassSplitCheckHook), and load_from / --resume must fit the model
(CheckpointFitHook; --allow-partial loads what fits).
"""
import argparse
import sys

from _bootstrap import (build_runner, ensure_pretrained_backbone, load_config,
                        set_local_rank, setup_cpu_distributed)
from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--work-dir',
        help='where logs and checkpoints go '
        '(default: work_dirs/<config name>)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (AmpOptimWrapper)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the real batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        metavar='CKPT',
        help='resume from CKPT, or without a value from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='load_from / --resume: load the checkpoint even if it does not '
        'fit the model (the keys that fit; the rest stays as initialised)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value')
    parser.add_argument(
        '--launcher',
        default='none',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    set_local_rank(args.local_rank)
    import mmdet_csod  # noqa: F401  registers modules, safe checkpoint loading
    from mmdet_csod.engine.hooks import ensure_check_hooks
    cfg = load_config(args.config, args.cfg_options, args.work_dir)
    if args.allow_partial:
        cfg.load_from_partial = True
    ensure_check_hooks(cfg)
    cfg.launcher = args.launcher
    setup_cpu_distributed(cfg, args.launcher)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError(f'{args.config}: --auto-scale-lr needs '
                               'auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    ensure_pretrained_backbone(cfg)
    runner = build_runner(cfg)
    runner.train()
    return runner


def cli(argv=None):
    """``main``, with the project's input errors as one message and exit
    status 1 instead of a traceback."""
    from mmdet_csod.datasets.transforms import BadImageLimitError
    from mmdet_csod.engine.hooks import ClassSplitMismatchError
    from mmdet_csod.utils import CheckpointError
    try:
        return main(argv)
    except (CheckpointError, ClassSplitMismatchError,
            BadImageLimitError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        raise SystemExit(1)


if __name__ == '__main__':
    cli()
