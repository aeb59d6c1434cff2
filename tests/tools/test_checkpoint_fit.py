"""tools/test.py with a checkpoint that is not the config's: another model's
(keys named), a truncated file, a crafted one; --allow-partial."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT, loader_options
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope

DRN = 'configs/csod/drn_tiny_synthetic.py'
WSOD = 'configs/wsod/oicr_small-vgg_synthetic.py'


def _test_tool(config, ckpt, root, *extra):
    proc = subprocess.run([
        sys.executable, 'tools/test.py', config, ckpt, *extra, '--cfg-options',
        'test_dataloader.dataset.indices=1', *loader_options(root)
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def wsod_checkpoint(tmp_path_factory):
    """A checkpoint of the OICR model (untrained: only its keys matter)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, WSOD))
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('wsod') / 'oicr_epoch_1.pth')
    torch.save(
        dict(
            meta=dict(experiment_name='oicr_small-vgg_synthetic_run'),
            state_dict=model.state_dict()), path)
    return path


def test_another_models_checkpoint_fails_naming_keys(wsod_checkpoint,
                                                     synthetic_root):
    rc, out = _test_tool(DRN, wsod_checkpoint, synthetic_root)
    assert rc == 1, out[-3000:]
    err = out[out.index('error: '):]
    assert wsod_checkpoint in err and DRN in err
    assert 'oicr_small-vgg_synthetic_run' in err
    assert 'key(s) of the model missing from the checkpoint: ' in err
    assert 'rec_head.shared_fcs.0.weight' in err  # the DRN's, not OICR's
    assert 'unexpected key(s): roi_head.shared_fcs.0.weight' in err
    assert ('roi_head.bbox_head.fc_cls.weight: (10, 512) in the '
            'checkpoint, (11, 512) in the model') in err
    assert '--allow-partial' in err
    assert 'Epoch(test)' not in out


def test_allow_partial_loads_what_fits(wsod_checkpoint, synthetic_root,
                                       tmp_path):
    metrics = str(tmp_path / 'metrics.json')
    rc, out = _test_tool(DRN, wsod_checkpoint,
                         synthetic_root, '--allow-partial', '--work-dir',
                         str(tmp_path), '--metrics-out', metrics)
    assert rc == 0, out[-3000:]
    with open(metrics) as f:
        assert 'pascal_voc/mAP' in json.load(f)
    assert 'missing keys in source state_dict' in out  # mmengine's notice


def test_truncated_checkpoint_names_the_file(wsod_checkpoint, synthetic_root,
                                             tmp_path):
    cut = str(tmp_path / 'cut.pth')
    with open(wsod_checkpoint, 'rb') as src, open(cut, 'wb') as dst:
        dst.write(src.read()[:100000])
    rc, out = _test_tool(DRN, cut, synthetic_root)
    assert rc == 1
    err = out[out.index('error: '):]
    assert cut in err and 'truncated' in err
    assert 'Traceback' not in out


class _System:

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f'touch {self.target}', ))


def test_crafted_checkpoint_runs_nothing(synthetic_root, tmp_path):
    target = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(meta={}, state_dict={}, x=_System(str(target))), path)
    rc, out = _test_tool(DRN, path, synthetic_root)
    assert rc == 1
    err = out[out.index('error: '):]
    assert path in err and f'{os.system.__module__}.system' in err
    assert 'upgrade_checkpoint' not in err
    assert not target.exists()


def test_missing_checkpoint(synthetic_root, tmp_path):
    rc, out = _test_tool(DRN, str(tmp_path / 'nope.pth'), synthetic_root)
    assert rc == 1 and 'nope.pth (CHECKPOINT) not found' in out
