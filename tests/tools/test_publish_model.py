"""tools/model_converters/publish_model.py on a real training checkpoint."""
import hashlib
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from mmdet.registry import MODELS
from mmengine.config import Config
from model_converters.publish_model import plain_data, strip_checkpoint

CONFIG = 'configs/csod/drn_tiny_synthetic.py'
TOOL = 'tools/model_converters/publish_model.py'


def _run(args, check=True):
    proc = subprocess.run([sys.executable, *args],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    if check:
        assert proc.returncode == 0, (
            proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc


@pytest.fixture(scope='module')
def trained(synthetic_root, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('drn'))
    opts = [
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=100',
        'train_dataloader.dataset.indices=8'
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [
            f'{loader}.dataset.data_root={synthetic_root}',
            f'{loader}.num_workers=0', f'{loader}.persistent_workers=False'
        ]
    _run(
        ['tools/train.py', CONFIG, '--work-dir', work, '--cfg-options', *opts])
    return osp.join(work, 'epoch_1.pth')


@pytest.fixture(scope='module')
def published(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp('published')
    proc = _run([TOOL, trained, str(out / 'drn_tiny.pth')])
    path = proc.stdout.strip().splitlines()[-1]
    return path


def test_name_carries_the_sha256_of_the_file(published):
    assert re.fullmatch(r'drn_tiny-[0-9a-f]{8}\.pth', osp.basename(published))
    with open(published, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    assert osp.basename(published) == f'drn_tiny-{sha[:8]}.pth'
    # nothing else (no temporary file) was left next to it
    assert os.listdir(osp.dirname(published)) == [osp.basename(published)]


def test_only_meta_and_state_dict_are_kept(published, trained):
    train = torch.load(trained, weights_only=True)
    assert {'optimizer', 'message_hub'} <= set(train)
    ckpt = torch.load(published, weights_only=True)
    assert set(ckpt) == {'meta', 'state_dict'}
    meta = ckpt['meta']
    for key in ('epoch', 'iter', 'seed', 'experiment_name', 'cfg',
                'mmengine_version', 'dataset_meta'):
        assert meta[key] == train['meta'][key], key
    assert meta['dataset_meta']['novel_classes'] == ('person', 'horse', 'lamp',
                                                     'fish', 'tree')


def test_loads_with_torch_defaults_alone(published):
    # a fresh interpreter: nothing of this project allow-listed
    _run([
        '-c', 'import sys, torch; c = torch.load(sys.argv[1], '
        'weights_only=True); assert set(c) == {"meta", "state_dict"}',
        published
    ])


def test_weights_load_strictly_into_the_config_model(published, trained):
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    model = MODELS.build(cfg.model)
    ckpt = torch.load(published, weights_only=True)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    expected = torch.load(trained, weights_only=True)['state_dict']
    state = model.state_dict()
    assert set(state) == set(expected)
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


def test_out_name_without_pth(trained, tmp_path):
    proc = _run([TOOL, trained, str(tmp_path / 'sub' / 'model')])
    path = proc.stdout.strip()
    assert re.fullmatch(r'model-[0-9a-f]{8}\.pth', osp.basename(path))
    assert osp.dirname(path) == str(tmp_path / 'sub')


def test_errors_name_the_file(tmp_path):
    missing = str(tmp_path / 'missing.pth')
    proc = _run([TOOL, missing, str(tmp_path / 'out')], check=False)
    assert proc.returncode != 0
    assert 'not found' in proc.stderr and missing in proc.stderr
    no_weights = str(tmp_path / 'no_weights.pth')
    torch.save({'meta': {'epoch': 1}}, no_weights)
    proc = _run([TOOL, no_weights, str(tmp_path / 'out')], check=False)
    assert proc.returncode != 0
    assert 'no state_dict' in proc.stderr and no_weights in proc.stderr
    assert os.listdir(tmp_path) == ['no_weights.pth']


def test_meta_is_reduced_to_plain_data():
    meta = dict(
        epoch=np.int64(3),
        scores=np.arange(2, dtype=np.float32),
        hook=object(),
        nested=dict(names=('a', 'b'), fn=len, ok=[1, None]))
    dropped = []
    out = plain_data(meta, dropped)
    assert out == dict(
        epoch=3,
        scores=[0.0, 1.0],
        nested=dict(names=('a', 'b'), ok=[1, None]))
    assert type(out['epoch']) is int
    assert sorted(dropped) == [
        'meta.hook (object)', 'meta.nested.fn (builtin_function_or_method)'
    ]
    with pytest.raises(KeyError, match='x.pth: no state_dict'):
        strip_checkpoint({'meta': {}}, 'x.pth')


def test_meta_carries_what_inference_needs(published):
    """Class split, config text and proposal settings: what tools/infer.py
    and DetInferencer need on a machine without the dataset."""
    meta = torch.load(published, weights_only=True)['meta']
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    assert meta['proposal_cfg'] == dict(cfg.proposal_cfg)
    assert meta['proposal_cfg']['max_side'] == 192
    assert meta['dataset_meta']['base_classes'] == tuple(
        cfg.metainfo['base_classes'])
    assert 'LoadOrComputeProposals' in meta['cfg']


def test_config_option_completes_a_bare_checkpoint(tmp_path):
    bare = str(tmp_path / 'bare.pth')
    torch.save({'state_dict': {'w': torch.ones(2)}}, bare)
    proc = _run([TOOL, bare, str(tmp_path / 'without')])
    assert 'lacks class names (dataset_meta.classes), config text (cfg), ' \
        'proposal settings (proposal_cfg)' in proc.stderr
    assert torch.load(proc.stdout.strip(), weights_only=True)['meta'] == {}
    rpn = 'configs/csod/drn-rpn_tiny_synthetic.py'
    proc = _run([TOOL, bare, str(tmp_path / 'with'), '--config', rpn])
    assert 'lacks' not in proc.stderr
    path = proc.stdout.strip().splitlines()[-1]  # after the config's log
    meta = torch.load(path, weights_only=True)['meta']
    assert meta['proposal_cfg'] is None  # the RPN computes none
    assert meta['dataset_meta']['novel_classes'] == ('person', 'horse',
                                                     'lamp', 'fish', 'tree')
    assert Config.fromstring(meta['cfg'], '.py').model.rpn_head.type == \
        'RPNHead'
