"""tools/train.py, --resume, tools/test.py and mmdet's own train.py."""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import mmdet
import pytest
import torch
from conftest import REPO_ROOT, loader_options, run_tool

CONFIG = 'configs/fast_rcnn/fast_rcnn_small-vgg_synthetic-base.py'


def _options(root, epochs):
    opts = [
        f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=100',
        'default_hooks.logger.interval=2', 'train_dataloader.dataset.indices=8'
    ]
    opts += loader_options(root)
    return opts


@pytest.fixture(scope='module')
def trained(synthetic_root, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('work'))
    run_tool([
        'tools/train.py', CONFIG, '--work-dir', work, '--cfg-options',
        *_options(synthetic_root, 1)
    ])
    return work


def test_train_writes_a_safe_loading_checkpoint(trained):
    ckpt = osp.join(trained, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    state = torch.load(ckpt, weights_only=True)  # no trusted path needed
    assert state['meta']['epoch'] == 1
    assert state['meta']['dataset_meta']['novel_classes'] == ('person',
                                                              'horse', 'lamp',
                                                              'fish', 'tree')
    assert 'train/loss' in state['message_hub']['log_scalars']


def test_resume_continues_from_the_checkpoint(trained, synthetic_root):
    log = run_tool([
        'tools/train.py', CONFIG, '--work-dir', trained, '--resume',
        '--cfg-options', *_options(synthetic_root, 2)
    ])
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [1]' not in log.split('resumed epoch: 1')[1]
    first = torch.load(osp.join(trained, 'epoch_1.pth'), weights_only=True)
    state = torch.load(osp.join(trained, 'epoch_2.pth'), weights_only=True)
    assert state['meta']['epoch'] == 2
    assert state['meta']['iter'] == 2 * first['meta']['iter'] > 0


def test_test_reports_base_and_novel_map(trained, synthetic_root):
    out = osp.join(trained, 'metrics.json')
    run_tool([
        'tools/test.py', CONFIG,
        osp.join(trained, 'epoch_1.pth'), '--work-dir', trained,
        '--metrics-out', out, '--cfg-options', *_options(synthetic_root, 1)
    ])
    with open(out) as f:
        metrics = json.load(f)
    for key in ('mAP', 'base_mAP', 'novel_mAP', 'AP50_person'):
        assert 0.0 <= metrics[f'pascal_voc/{key}'] <= 1.0


def test_mmdet_installed_train_tool_runs_project_config(
        synthetic_root, tmp_path):
    tool = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'train.py')
    assert osp.isfile(tool)
    run_tool([
        tool, CONFIG, '--work-dir',
        str(tmp_path), '--cfg-options', *_options(synthetic_root, 1)
    ])
    assert glob.glob(osp.join(tmp_path, 'epoch_1.pth'))


def test_bad_training_images_stop_with_one_message(synthetic_root, tmp_path):
    """Eight truncated training images, more than the dataset allows:
    tools/train.py stops with its list of bad images as one message and
    exit status 1, not a traceback."""
    root = tmp_path / 'bad'
    shutil.copytree(synthetic_root, root)
    names = sorted(os.listdir(root / 'train'))[:8]
    for name in names:
        path = root / 'train' / name
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    proc = subprocess.run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        *_options(str(root) + '/', 1)
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert 'Traceback' not in out, out[-3000:]
    err = out[out.index('error: '):]
    assert 'bad training image(s), more than max_bad_images' in err
    assert 'truncated JPEG' in err and 'check_data.py' in err
