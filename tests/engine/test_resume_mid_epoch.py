"""A job killed mid-epoch and resumed ends as an uninterrupted run does.

With checkpoints saved by iteration, ``tools/train.py --resume`` from a
checkpoint inside an epoch goes on with the next batch of that epoch
(ResumableEpochBasedTrainLoop): the same batches, in the same order, with
the same learning rate per iteration and the same final iteration count as
a run that was never stopped; and the batches already trained on are not
loaded again. With the random states in the checkpoint (RandomStateHook)
and the augmentation of every batch drawn from a seed of its own
(ResumableBatchSampler), the resumed run's losses are the uninterrupted
run's, with the data loaded in the process and with data loader workers.

The runs train on small images (shorter side 96-128) without validation,
to keep the test short; a real SIGKILL stops the interrupted one.
"""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.dataset import DefaultSampler
from torch.utils.data import DataLoader, Dataset

from mmdet_csod.engine import (ResumableBatchSampler,
                               ResumableEpochBasedTrainLoop)

HERE = osp.dirname(osp.abspath(__file__))
CONFIG = 'configs/fast_rcnn/fast_rcnn_small-vgg_synthetic-base.py'
ITERS_PER_EPOCH, EPOCHS, CKPT_INTERVAL = 6, 2, 4
# the multi-scale training of the config at a fraction of its pixels
SMALL_SCALES = [(160, 96), (160, 112), (160, 128)]


class _CountingDataset(Dataset):

    def __init__(self, n):
        self.n, self.loaded = n, []

    def __len__(self):
        return self.n

    def __getitem__(self, idx):
        self.loaded.append(idx)
        return idx


def test_skipped_batches_are_not_loaded():
    dataset = _CountingDataset(10)
    sampler = DefaultSampler(dataset, shuffle=True, seed=0)
    batch_sampler = ResumableBatchSampler(sampler, batch_size=2)
    loader = DataLoader(dataset, batch_sampler=batch_sampler, collate_fn=list)
    sampler.set_epoch(1)  # the order depends on seed + epoch
    full = list(loader)
    dataset.loaded.clear()
    loop = SimpleNamespace(dataloader=loader)
    rest = list(ResumableEpochBasedTrainLoop._batches_after(loop, 3))
    assert rest == full[3:]
    assert sorted(dataset.loaded) == sorted(sum(full[3:], []))
    assert loader.batch_sampler is batch_sampler  # the loader as built
    assert len(loader) == 5
    assert list(loader) == full  # only the one pass skips
    assert list(ResumableEpochBasedTrainLoop._batches_after(loop, 5)) == []


def _options(root, num_workers):
    opts = [
        f'train_cfg.max_epochs={EPOCHS}', 'train_cfg.val_interval=100',
        'train_dataloader.dataset.indices=12', 'train_dataloader.batch_size=2',
        'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.by_epoch=False',
        f'default_hooks.checkpoint.interval={CKPT_INTERVAL}',
        'default_hooks.checkpoint.max_keep_ckpts=-1', 'randomness.seed=0',
        'custom_imports.imports=[mmdet_csod,_iter_trace_hook]'
    ]
    # with workers, persistent ones, as the configs load
    opts += [
        f'train_dataloader.dataset.data_root={root}',
        f'train_dataloader.num_workers={num_workers}',
        f'train_dataloader.persistent_workers={bool(num_workers)}'
    ]
    return opts


def _small_images(obj):
    """``obj`` (a pipeline) with every ``scales`` list made SMALL_SCALES."""
    if isinstance(obj, dict):
        return {
            k: SMALL_SCALES if k == 'scales' else _small_images(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_small_images(v) for v in obj]
    return obj


def _train_pipeline():
    pipeline = Config.fromfile(osp.join(REPO_ROOT, CONFIG)).train_pipeline
    small = _small_images(list(pipeline))
    assert small != pipeline, 'no RandomChoiceResize scales to shrink'
    return small


def _train(tmp, name, root, work_dir, num_workers, resume=False, **hook):
    """Start tools/train.py with IterTraceHook writing <tmp>/<name>.jsonl."""
    trace = osp.join(tmp, f'{name}.jsonl')
    hook = dict(type='IterTraceHook', out_file=trace, **hook)
    config = osp.join(tmp, f'{name}.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{osp.join(REPO_ROOT, CONFIG)!r}]\n'
                f'custom_hooks = [{hook!r}]\n'
                'train_dataloader = dict(dataset=dict(pipeline='
                f'{_train_pipeline()!r}))\n'
                'val_dataloader = None\nval_cfg = None\n'
                'val_evaluator = None\n')
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (HERE, env.get('PYTHONPATH')) if p)
    args = [
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
        *(['--resume'] if resume else []), '--cfg-options',
        *_options(root, num_workers)
    ]
    log = osp.join(tmp, f'{name}.log')
    with open(log, 'w') as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            args, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, trace, log


def _read(path):
    with open(path) as f:
        return f.read()


def _finish(proc, log, timeout=150):
    assert proc.wait(timeout=timeout) == 0, _read(log)[-3000:]


def _records(trace):
    records = []
    with open(trace) as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except ValueError:  # a line cut by the kill
                pass
    return records


@pytest.fixture(scope='module', params=[0, 2], ids=['no-workers', '2-workers'])
def runs(request, synthetic_root, tmp_path_factory):
    """An uninterrupted run, one killed after its checkpoint at iteration 4
    (inside the first epoch) and its resumed run, with ``request.param``
    data loader workers."""
    num_workers = request.param
    tmp = str(tmp_path_factory.mktemp(f'resume{num_workers}'))
    root = synthetic_root
    whole = _train(tmp, 'whole', root, osp.join(tmp, 'whole'), num_workers)
    work = osp.join(tmp, 'killed')
    pause = osp.join(tmp, 'paused')
    killed, killed_trace, killed_log = _train(
        tmp,
        'killed',
        root,
        work,
        num_workers,
        pause_at_iter=CKPT_INTERVAL,
        pause_file=pause)
    procs = [whole[0], killed]
    try:
        deadline = time.time() + 150
        while not osp.exists(pause):
            assert killed.poll() is None, _read(killed_log)[-3000:]
            assert time.time() < deadline, 'the run never reached iter 5'
            time.sleep(0.2)
        killed.send_signal(signal.SIGKILL)
        assert killed.wait(timeout=30) == -signal.SIGKILL
        with open(osp.join(work, 'last_checkpoint')) as f:
            assert f.read().endswith(f'iter_{CKPT_INTERVAL}.pth')
        resumed, resumed_trace, resumed_log = _train(
            tmp, 'resumed', root, work, num_workers, resume=True)
        procs.append(resumed)
        _finish(resumed, resumed_log)
        _finish(whole[0], whole[2])
    finally:  # a failed fixture leaves no training behind
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return dict(
        whole=_records(whole[1]),
        killed=_records(killed_trace),
        resumed=_records(resumed_trace),
        resumed_log=_read(resumed_log),
        work=work)


def test_the_killed_run_stopped_after_its_checkpoint(runs):
    assert [r['iter'] for r in runs['killed']] == [1, 2, 3, 4]


def test_resume_skips_the_iterations_done(runs):
    iters = [r['iter'] for r in runs['resumed'] if 'end' not in r]
    assert iters == list(
        range(CKPT_INTERVAL + 1, EPOCHS * ITERS_PER_EPOCH + 1))
    assert 'skipping its first 4 of 6 batches' in runs['resumed_log']
    assert runs['resumed'][-1] == dict(
        end=True, epoch=EPOCHS, iter=EPOCHS * ITERS_PER_EPOCH)


def test_same_batches_and_lr_as_uninterrupted(runs):
    whole = [r for r in runs['whole'] if 'end' not in r]
    assert len(whole) == EPOCHS * ITERS_PER_EPOCH
    assert runs['whole'][-1]['iter'] == EPOCHS * ITERS_PER_EPOCH
    joined = runs['killed'] + [r for r in runs['resumed'] if 'end' not in r]
    for key in ('iter', 'epoch', 'batch_idx', 'imgs'):
        assert [r[key] for r in joined] == [r[key] for r in whole], key
    # epochs shuffle differently, so the check above sees the order
    assert whole[0]['imgs'] != whole[ITERS_PER_EPOCH]['imgs']
    assert [r['lr'] for r in joined] == pytest.approx([r['lr'] for r in whole],
                                                      rel=1e-9)


def test_final_checkpoint(runs):
    files = sorted(os.listdir(runs['work']))
    assert [f for f in files if f.endswith('.pth')
            ] == ['iter_12.pth', 'iter_4.pth', 'iter_8.pth']
    checkpoint = torch.load(
        osp.join(runs['work'], 'iter_12.pth'), weights_only=True)
    meta = checkpoint['meta']
    # what RandomStateHook adds: tensors and numbers (weights_only)
    assert {'python', 'numpy', 'torch'} <= set(checkpoint['random_states'])
    assert checkpoint['batch_sampler'] == dict(seed=0)
    assert meta['iter'] == EPOCHS * ITERS_PER_EPOCH
    # a checkpoint by iteration holds the epoch in progress (mmengine):
    # the last iteration's is in epoch 2, i.e. 1 finished; the loop itself
    # ended with 2 (test_resume_skips_the_iterations_done)
    assert meta['epoch'] == EPOCHS - 1


def test_same_losses_as_uninterrupted(runs):
    whole = [r for r in runs['whole'] if 'end' not in r]
    joined = runs['killed'] + [r for r in runs['resumed'] if 'end' not in r]
    assert [r['iter'] for r in joined] == [r['iter'] for r in whole]
    for mine, ref in zip(joined, whole):
        assert mine['losses'].keys() == ref['losses'].keys()
        for key, value in ref['losses'].items():
            got = mine['losses'][key]
            assert got == pytest.approx(value, rel=1e-6, abs=1e-7), \
                f'iteration {mine["iter"]}, {key}: {got} resumed, ' \
                f'{value} uninterrupted'
