"""Every tiny method config trains with tools/train.py and tests with
tools/test.py on a freshly generated dataset (a smoke run per method)."""
import json
import os.path as osp
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

METHODS = [
    'wsod/wsddn_small-vgg_synthetic.py',
    'wsod/oicr_small-vgg_synthetic.py',
    'wsod/pcl_small-vgg_synthetic.py',
    'csod/two-head_tiny_synthetic.py',
    'csod/two-head-plus_tiny_synthetic.py',
    'csod/two-branch_tiny_synthetic.py',
    'csod/ours-wo-scm_tiny_synthetic.py',
    'csod/drn_tiny_synthetic.py',
    'csod/drn-rpn_tiny_synthetic.py',
]
TTA = {'wsod/oicr_small-vgg_synthetic.py', 'csod/drn_tiny_synthetic.py'}


def _options(root, extra=()):
    opts = [
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=100',
        'train_dataloader.dataset.indices=8',
        'val_dataloader.dataset.indices=3',
        'test_dataloader.dataset.indices=3', *extra
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [
            f'{loader}.dataset.data_root={root}', f'{loader}.num_workers=0',
            f'{loader}.persistent_workers=False'
        ]
    return opts


def _run(args):
    proc = subprocess.run([sys.executable, *args],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.parametrize('config', METHODS)
def test_method_trains_and_tests(config, synthetic_root, tmp_path):
    path = osp.join('configs', config)
    work = str(tmp_path)
    log = _run([
        'tools/train.py', path, '--work-dir', work, '--cfg-options',
        *_options(synthetic_root)
    ])
    assert 'Saving checkpoint at 1 epochs' in log
    ckpt = osp.join(work, 'epoch_1.pth')
    runs = [[]] + ([['--tta']] if config in TTA else [])
    for extra in runs:
        out = osp.join(work, f'metrics{len(extra)}.json')
        _run([
            'tools/test.py', path, ckpt, '--work-dir', work, '--metrics-out',
            out, *extra, '--cfg-options', *_options(synthetic_root)
        ])
        with open(out) as f:
            metrics = json.load(f)
        for key in ('mAP', 'base_mAP', 'novel_mAP'):
            assert 0.0 <= metrics[f'pascal_voc/{key}'] <= 1.0
        assert 'corloc/corloc' in metrics
