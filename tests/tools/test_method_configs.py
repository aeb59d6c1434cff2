"""Every tiny method config trains with tools/train.py and tests with
tools/test.py on a freshly generated dataset (a smoke run per method)."""
import json
import os.path as osp

import pytest
from conftest import loader_options, run_tool

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
    opts += loader_options(root)
    return opts


@pytest.mark.parametrize('config', METHODS)
def test_method_trains_and_tests(config, synthetic_root, tmp_path):
    path = osp.join('configs', config)
    work = str(tmp_path)
    log = run_tool([
        'tools/train.py', path, '--work-dir', work, '--cfg-options',
        *_options(synthetic_root)
    ])
    assert 'Saving checkpoint at 1 epochs' in log
    ckpt = osp.join(work, 'epoch_1.pth')
    runs = [[]] + ([['--tta']] if config in TTA else [])
    for extra in runs:
        out = osp.join(work, f'metrics{len(extra)}.json')
        run_tool([
            'tools/test.py', path, ckpt, '--work-dir', work, '--metrics-out',
            out, *extra, '--cfg-options', *_options(synthetic_root)
        ])
        with open(out) as f:
            metrics = json.load(f)
        for key in ('mAP', 'base_mAP', 'novel_mAP'):
            assert 0.0 <= metrics[f'pascal_voc/{key}'] <= 1.0
        assert 'corloc/corloc' in metrics
