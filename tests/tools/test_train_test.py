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


def test_tools_in_one_process_give_what_they_give_alone(
        trained, synthetic_root, tmp_path):
    """tools/misc/run_in_one_process.py (the Table-1 benchmark's tests and
    diagnostics of a run): two tools/test.py runs in one process write the
    metrics a process of its own writes; an optional step's failure is
    recorded and the plan goes on, a required one's ends it (exit 1) and
    the rest is reported skipped."""
    ckpt = osp.join(trained, 'epoch_1.pth')

    def test_argv(name):
        return [
            'tools/test.py', CONFIG, ckpt, '--work-dir',
            str(tmp_path / name), '--metrics-out',
            str(tmp_path / f'{name}.json'), '--cfg-options',
            *_options(synthetic_root, 1)
        ]

    run_tool(test_argv('alone'))
    plan = tmp_path / 'plan.json'
    steps = [
        dict(name='first', argv=test_argv('first')),
        dict(name='missing', optional=True,
             argv=['tools/test.py', CONFIG, str(tmp_path / 'no.pth')]),
        dict(name='second', argv=test_argv('second')),
        dict(name='bad', argv=['tools/test.py', '--no-such-flag']),
        dict(name='after', argv=test_argv('after')),
    ]
    plan.write_text(json.dumps(dict(steps=steps)))
    report = tmp_path / 'report.json'
    proc = subprocess.run([
        sys.executable, 'tools/misc/run_in_one_process.py',
        str(plan), '--report', str(report)
    ], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    alone = json.loads((tmp_path / 'alone.json').read_text())
    assert 'pascal_voc/novel_mAP' in alone
    for name in ('first', 'second'):
        assert json.loads((tmp_path / f'{name}.json').read_text()) == alone
        # each tool's runner its own visualizer: its config dump and
        # scalars in its own work dir, not in the previous tool's
        assert glob.glob(str(tmp_path / name / '*' / 'vis_data' /
                             'config.py')), name
    done = {r['name']: r for r in json.loads(report.read_text())['steps']}
    assert [done[n]['status'] for n in ('first', 'missing', 'second', 'bad',
                                        'after')] == [
                                            'ok', 'failed', 'ok', 'failed',
                                            'skipped'
                                        ]
    assert 'FileNotFoundError' in done['missing']['error']
    assert 'no.pth' in done['missing']['error']
    assert done['bad']['error'] == 'tools/test.py exited with 2'
    assert done['first']['seconds'] > 0
    assert not osp.exists(tmp_path / 'after.json')


def test_one_process_plan_errors_name_the_file_and_step(tmp_path):
    plan = tmp_path / 'plan.json'
    for content, message in (
        ('{"steps": []}', 'at least one step'),
        ('[1, 2]', 'at least one step'),
        ('{"steps": [{"name": "a", "argv": []}]}', 'steps[0] (a)'),
        ('{"steps": [{"argv": ["tools/test.py"]}]}', 'steps[0]: a step'),
        ('{"steps": [{"name": "a", "argv": ["tools/nope.py"]}]}',
         'no tool tools/nope.py'),
        ('not json', 'not JSON'),
    ):
        plan.write_text(content)
        proc = subprocess.run(
            [sys.executable, 'tools/misc/run_in_one_process.py', str(plan)],
            cwd=REPO_ROOT, capture_output=True, text=True)
        assert proc.returncode == 1, content
        assert str(plan) in proc.stderr and message in proc.stderr, (
            content, proc.stderr)
