"""The command-line options of a Table-1 run's tools
(tools/analysis_tools/benchmark_table1.py, table1_runs.py): what every
training and test command of a run gets (seed, data root, loaders in the
process, the data's class split, the user's --cfg-options last) and what
the timed training leaves out. Nothing here imports the project or torch
(mmengine's Config only, to read a config's hooks and model)."""
import os.path as osp

from table1_figures import REPO_ROOT, load_config

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def split_options(split, config):
    """cfg-options giving every loader's dataset, and the model of
    ``config`` when it has a ``class_split`` (the DRN's), the class split
    ``split`` (``classes``, ``base_classes``, ``novel_classes``); none
    when ``split`` is None."""
    if not split:
        return []
    lists = {k: '[' + ','.join(v) + ']' for k, v in split.items()}
    opts = [
        f'{loader}.dataset.metainfo.{k}={v}' for loader in LOADERS
        for k, v in lists.items()
    ]
    cfg = load_config(osp.join(REPO_ROOT, config)) if config else None
    if cfg is not None and 'class_split' in (cfg.get('model') or {}):
        opts += [f'model.class_split.{k}={v}' for k, v in lists.items()]
    return opts


def base_options(args, seed, config=None):
    """cfg-options of every tool call of a run (the user's last): seed, data
    root, loaders in the process, the data's class split when it is not the
    configs' (``args.class_split``, :func:`split_options` of ``config``)."""
    opts = [f'randomness.seed={seed}']
    for loader in LOADERS:
        opts += [
            f'{loader}.dataset.data_root={args.data_root}',
            f'{loader}.num_workers=0', f'{loader}.persistent_workers=False'
        ]
    opts += split_options(getattr(args, 'class_split', None), config)
    return opts + list(args.cfg_options)


# The val figures are tools/test.py's (the same val images, a process of
# its own): the training loop's pass over them after the last epoch would
# only repeat it (the loop validates from epoch val_begin on). Nothing
# trains after that pass, so the checkpoints are the same without it.
NO_TRAIN_VAL = 'train_cfg.val_begin=1000000'
# Likewise the DRN configs' per-epoch stage figures (DRNDiagnosticsHook on
# 48 training images, ~7 s an epoch): the run is diagnosed once after
# training (``diag_step``), and the hook leaves training bit-identical
# (measured: every weight of a two-epoch Ours equal with and without it),
# so the timed training skips it unless --train-diagnostics.
NO_EPOCH_DIAG_INTERVAL = 1000000


def no_epoch_diagnostics(config):
    """cfg-options that stop ``config``'s DRNDiagnosticsHook (an interval
    no schedule reaches); none when it has no such hook."""
    cfg = load_config(osp.join(REPO_ROOT, config))
    hooks = (cfg.get('custom_hooks') or []) if cfg is not None else []
    return [
        f'custom_hooks.{i}.interval={NO_EPOCH_DIAG_INTERVAL}'
        for i, hook in enumerate(hooks)
        if hook.get('type') == 'DRNDiagnosticsHook'
    ]
