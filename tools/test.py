"""Evaluate a checkpoint on a config's test set (MMDetection's interface).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
        [--show-dir DIR] [--tta] [--allow-partial] [--no-eval]
        [--cfg-options KEY=VALUE ...]

A CHECKPOINT that does not fit the config's model (missing or unexpected
keys, other shapes), a truncated file, one that is no checkpoint, or one the
safe loader refuses is an error naming the file (CheckpointFitHook,
mmdet_csod.utils.checkpoint); --allow-partial loads what fits.

A test set without ground truth (new images listed in a COCO json without
annotations; proposals are computed on the fly when there is no
proposal_file) is not evaluated: the run says so and only writes --out and
--show-dir, instead of printing a NaN mAP. --no-eval skips the evaluation of
any test set.
"""
import argparse
import os.path as osp
import sys

from _bootstrap import (build_runner, load_config, set_local_rank,
                        setup_cpu_distributed)
from mmengine.config import ConfigDict, DictAction


class NothingToDoError(ValueError):
    """No metric to compute and no prediction to keep."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a '
                                     'detector')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the metrics are written')
    parser.add_argument('--out', help='also dump predictions to this .pkl')
    parser.add_argument(
        '--metrics-out', help='also write the metrics to this .json')
    parser.add_argument(
        '--show', action='store_true', help='show predictions in a window')
    parser.add_argument(
        '--show-dir',
        help='draw predictions into this '
        'folder (under the work dir\'s timestamp folder)')
    parser.add_argument(
        '--wait-time',
        type=float,
        default=2,
        help='seconds each --show picture stays')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test-time augmentation: the config\'s '
        'tta_model and tta_pipeline')
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='load the checkpoint even if it does not fit the model (the '
        'keys that fit; the rest stays as initialised)')
    parser.add_argument(
        '--no-eval',
        action='store_true',
        help='predictions only (--out, --show-dir): no metric is computed')
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
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'{args.checkpoint} (CHECKPOINT) not found')
    cfg = load_config(args.config, args.cfg_options, args.work_dir)
    cfg.launcher = args.launcher
    setup_cpu_distributed(cfg, args.launcher)
    cfg.load_from = args.checkpoint
    if args.allow_partial:
        cfg.load_from_partial = True
    ensure_check_hooks(cfg)
    if args.show or args.show_dir:
        from mmdet.engine.hooks.utils import trigger_visualization_hook
        cfg = trigger_visualization_hook(cfg, args)
    if args.tta:
        for key in ('tta_model', 'tta_pipeline'):
            if key not in cfg:
                raise KeyError(f'{args.config}: --tta needs {key} in the '
                               'config')
        cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise ValueError('--out must end with .pkl or .pickle')
    runner = build_runner(cfg)
    if args.no_eval or not has_ground_truth(runner.test_loop.dataloader):
        if not args.no_eval:
            print('no ground truth in the test set: not evaluated '
                  '(predictions only)', flush=True)
        if args.out is None and not (args.show or args.show_dir):
            raise NothingToDoError('nothing to do without evaluation: give '
                                   '--out and/or --show-dir')
        runner.test_evaluator.metrics.clear()
    if args.out is not None:
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=args.out))
    metrics = runner.test()
    from mmengine.dist import is_main_process
    if args.metrics_out and is_main_process():
        import json
        import os
        os.makedirs(
            os.path.dirname(os.path.abspath(args.metrics_out)), exist_ok=True)
        with open(args.metrics_out, 'w') as f:
            json.dump(
                {
                    k: float(v) if isinstance(v, (int, float)) else str(v)
                    for k, v in metrics.items()
                },
                f,
                indent=2)
    _close_process_group()
    return metrics


def _close_process_group():
    """End a torchrun job's process group before the interpreter exits (a
    rank left to tear gloo down at exit sometimes aborted, exit code -6,
    after its results were written)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def has_ground_truth(dataloader) -> bool:
    """Whether any image of the test set has a ground-truth box that is
    not ignored. Read from the data infos (no image is loaded); True for a
    dataset that does not keep mmengine's data infos (a wrapper), which is
    then evaluated as before."""
    from mmengine.dataset import BaseDataset
    dataset = dataloader.dataset
    if not isinstance(dataset, BaseDataset):
        return True
    for i in range(len(dataset)):
        # BaseDataset's: the info alone, without the sample's proposals
        info = BaseDataset.get_data_info(dataset, i)
        if any(not inst.get('ignore_flag', 0)
               for inst in info.get('instances', ())):
            return True
    return False


def cli(argv=None):
    """``main``, with the project's input errors as one message and exit
    status 1 instead of a traceback."""
    from mmdet_csod.engine.hooks import ClassSplitMismatchError
    from mmdet_csod.utils import CheckpointError
    try:
        return main(argv)
    except (CheckpointError, ClassSplitMismatchError, FileNotFoundError,
            NothingToDoError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        raise SystemExit(1)


if __name__ == '__main__':
    cli()
