"""tools/dist_train.sh and tools/dist_test.sh: torchrun with 2 processes on
the CPU (gloo), and the srun command line of tools/slurm_train.sh.

The training config adds ``RankImagesHook`` (tests/tools/_rank_images_hook.py,
imported through ``--cfg-options custom_imports.imports=...``), which records
the images each rank trained on and its final parameter sum.
"""
import json
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys

import pytest
import torch
from _rank_images_hook import tensor_digest
from conftest import REPO_ROOT

CONFIG = 'configs/fast_rcnn/fast_rcnn_small-vgg_synthetic-base.py'
HERE = osp.dirname(osp.abspath(__file__))


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _env(**extra):
    env = dict(os.environ, PYTHON=sys.executable, **extra)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (HERE, env.get('PYTHONPATH')) if p)
    return env


def _bash(args, timeout=240, **env):
    proc = subprocess.run(['bash', *args],
                          cwd=REPO_ROOT,
                          env=_env(PORT=str(_free_port()), **env),
                          capture_output=True,
                          text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def _data_options(root):
    opts = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [
            f'{loader}.dataset.data_root={root}', f'{loader}.num_workers=0',
            f'{loader}.persistent_workers=False'
        ]
    return opts


@pytest.fixture(scope='module')
def dist_trained(synthetic_root, tmp_path_factory):
    work = tmp_path_factory.mktemp('dist')
    config = work / 'with_rank_hook.py'
    config.write_text(f'_base_ = [{osp.join(REPO_ROOT, CONFIG)!r}]\n'
                      "custom_hooks = [dict(type='RankImagesHook')]\n")
    work_dir = str(work / 'run')
    log = _bash([
        'tools/dist_train.sh',
        str(config), '2', '--work-dir', work_dir, '--cfg-options',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=100',
        'default_hooks.logger.interval=1',
        'train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=2',
        'custom_imports.imports=[mmdet_csod,_rank_images_hook]',
        *_data_options(synthetic_root)
    ])
    return work_dir, log


def _lines(path):
    with open(path) as f:
        return f.read().split()


def test_two_cpu_processes_train_on_disjoint_halves(dist_trained):
    work_dir, log = dist_trained
    assert 'Distributed training: True' in log
    assert "backend='gloo'" in log
    seen = [_lines(osp.join(work_dir, f'seen_rank{r}.txt')) for r in range(2)]
    assert [len(s) for s in seen] == [4, 4]
    assert not set(seen[0]) & set(seen[1])
    names = {osp.basename(p) for p in seen[0] + seen[1]}
    assert len(names) == 8
    # no third rank
    assert not osp.exists(osp.join(work_dir, 'seen_rank2.txt'))


def test_rank0_alone_writes_one_checkpoint_in_sync_weights(dist_trained):
    work_dir, _ = dist_trained
    assert sorted(f for f in os.listdir(work_dir)
                  if f.endswith('.pth')) == ['epoch_1.pth']
    ckpt = torch.load(osp.join(work_dir, 'epoch_1.pth'), weights_only=True)
    assert ckpt['meta']['epoch'] == 1
    # 8 images, 2 ranks, 2 per batch: 2 iterations each
    assert ckpt['meta']['iter'] == 2
    # gradients were averaged: both ranks end with the same weights, bit for
    # bit, the checkpoint's (saved unwrapped, without a 'module.' prefix)
    digests = []
    for rank in range(2):
        with open(osp.join(work_dir, f'params_rank{rank}.json')) as f:
            digests.append(json.load(f))
    assert digests[0] == digests[1]
    state = ckpt['state_dict']
    assert set(digests[0]) <= set(state)
    for name, value in digests[0].items():
        assert tensor_digest(state[name]) == value, name


def test_dist_test_matches_a_single_process(dist_trained, synthetic_root,
                                            tmp_path):
    work_dir, _ = dist_trained
    ckpt = osp.join(work_dir, 'epoch_1.pth')

    def test_args(out):
        return [
            '--work-dir',
            str(out), '--out',
            str(out / 'pred.pkl'), '--metrics-out',
            str(out / 'metrics.json'), '--cfg-options',
            *_data_options(synthetic_root)
        ]

    def results(out):
        with open(out / 'metrics.json') as f:
            metrics = json.load(f)
        with open(out / 'pred.pkl', 'rb') as f:
            preds = pickle.load(f)
        return metrics, sorted(p['img_id'] for p in preds)

    two, one = tmp_path / 'two', tmp_path / 'one'
    _bash(['tools/dist_test.sh', CONFIG, ckpt, '2', *test_args(two)])
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', CONFIG, ckpt, *test_args(one)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True)
    assert proc.returncode == 0, proc.stderr[-5000:]
    metrics, ids = results(two)
    expected_metrics, expected_ids = results(one)
    assert ids == expected_ids and len(set(ids)) == 8
    assert metrics.keys() == expected_metrics.keys()
    for key, value in expected_metrics.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key


def test_slurm_train_command_line(tmp_path):
    """A stand-in srun records what tools/slurm_train.sh asks for."""
    record = tmp_path / 'srun_args.txt'
    fake = tmp_path / 'bin' / 'srun'
    fake.parent.mkdir()
    fake.write_text('#!/usr/bin/env bash\n'
                    f'printf "%s\\n" "$@" > {record}\n')
    fake.chmod(0o755)
    _bash([
        'tools/slurm_train.sh', 'gpu', 'drn', CONFIG, 'work_dirs/x',
        '--cfg-options', 'train_cfg.max_epochs=3'
    ],
          timeout=30,
          PATH=f'{fake.parent}{os.pathsep}{os.environ["PATH"]}',
          GPUS='16',
          GPUS_PER_NODE='8',
          SRUN_ARGS='--quotatype=auto --time=1:00:00')
    args = _lines(record)
    for expected in ('-p', 'gpu', '--job-name=drn', '--gres=gpu:8',
                     '--ntasks=16', '--ntasks-per-node=8', '--cpus-per-task=5',
                     '--kill-on-bad-exit=1', '--quotatype=auto',
                     '--time=1:00:00', sys.executable,
                     osp.join(REPO_ROOT, 'tools',
                              'train.py'), CONFIG, '--work-dir=work_dirs/x',
                     '--launcher=slurm', 'train_cfg.max_epochs=3'):
        assert expected in args, (expected, args)
    assert args.index(sys.executable) > args.index('--time=1:00:00')


def test_usage_errors():
    for script, nargs in (('dist_train.sh', 1), ('dist_test.sh', 2),
                          ('slurm_train.sh', 3)):
        proc = subprocess.run(['bash', f'tools/{script}', *['x'] * nargs],
                              cwd=REPO_ROOT,
                              capture_output=True,
                              text=True)
        assert proc.returncode == 2 and 'usage' in proc.stderr, script
