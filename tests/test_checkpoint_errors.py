"""Checkpoints mmengine cannot use are errors that name the file and why,
on every loading path (load_from, --resume, init_cfg; tools/test.py in
tests/tools/test_checkpoint_fit.py), and a checkpoint that does not fit the
model is an error unless partial loading is asked for."""
import os
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.model import BaseModel, BaseTTAModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint
from torch.utils.data import Dataset

import mmdet_csod  # noqa: F401  wraps mmengine's checkpoint loader
from mmdet_csod.engine.hooks import CheckpointFitHook
from mmdet_csod.utils import (CheckpointMismatchError, CorruptCheckpointError,
                              UnsafeCheckpointError, check_checkpoint_fits)
from mmdet_csod.utils import checkpoint as ckpt_module

UPGRADE = 'upgrade_checkpoint.py'
CALLS = []


class _Toy(BaseModel):

    def __init__(self, width=2):
        super().__init__()
        self.fc = nn.Linear(width, 1)
        self.bn = nn.BatchNorm1d(1)

    def forward(self, x, y=None, mode='loss'):
        CALLS.append(mode)
        out = self.bn(self.fc(torch.stack(x) if isinstance(x, list) else x))
        if mode == 'loss':
            return dict(loss=((out.squeeze(-1) - y)**2).mean())
        return [out]


class _Data(Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return dict(x=torch.tensor([i, 1.]), y=torch.tensor(float(i)))


def _runner(work_dir, model=None, cfg=None, fit_hook=None, **kwargs):
    CALLS.clear()
    return Runner(
        model=model or _Toy(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_Data(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        default_hooks=dict(checkpoint_fit=fit_hook or CheckpointFitHook()),
        default_scope='mmdet',
        cfg=cfg,
        **kwargs)


class _System:

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f'touch {self.target}', ))


@pytest.fixture
def files(tmp_path, monkeypatch):
    """An old mmengine checkpoint, two crafted ones, a truncated one, a text
    file, and the file the payloads would create."""
    hub = MessageHub.get_instance('test_checkpoint_errors')
    hub.update_scalar('train/loss', 1.0)
    sd = _Toy().state_dict()
    f = dict(target=tmp_path / 'pwned')
    f['old'] = str(tmp_path / 'old.pth')
    with monkeypatch.context() as m:
        m.setattr(HistoryBuffer, '__getstate__', ckpt_module.MMENGINE_GETSTATE)
        torch.save(
            dict(
                meta=dict(epoch=1),
                state_dict=sd,
                message_hub=hub.state_dict()), f['old'])
    f['evil_mm'] = str(tmp_path / 'evil_mm.pth')  # looks like mmengine's
    torch.save(
        dict(
            meta=dict(epoch=1),
            state_dict=sd,
            message_hub=dict(x=_System(f['target']))), f['evil_mm'])
    f['evil'] = str(tmp_path / 'evil.pth')
    torch.save(dict(weights=_System(f['target'])), f['evil'])
    good = str(tmp_path / 'good.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=sd), good)
    f['good'] = good
    f['cut'] = str(tmp_path / 'cut.pth')
    with open(good, 'rb') as src, open(f['cut'], 'wb') as dst:
        dst.write(src.read()[:600])
    f['text'] = str(tmp_path / 'notes.pth')
    with open(f['text'], 'w') as out:
        out.write('{"not": "a checkpoint"}')
    return f


def test_old_mmengine_checkpoint_points_to_the_upgrade_tool(files):
    with pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(files['old'], map_location='cpu')
    msg = str(err.value)
    assert files['old'] in msg and 'builtins.getattr' in msg
    assert UPGRADE in msg
    assert 'weights_only=False' not in msg  # not torch's generic advice


@pytest.mark.parametrize('name', ['evil_mm', 'evil'])
def test_crafted_checkpoint_names_the_global_not_the_tool(files, name):
    with pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(files[name], map_location='cpu')
    msg = str(err.value)
    assert files[name] in msg
    assert f'{os.system.__module__}.system' in msg
    assert UPGRADE not in msg
    assert not files['target'].exists()


@pytest.mark.parametrize('name,what', [('cut', 'truncated'),
                                       ('text', 'not a checkpoint')])
def test_truncated_or_foreign_file_names_the_file(files, name, what):
    with pytest.raises(CorruptCheckpointError) as err:
        _load_checkpoint(files[name], map_location='cpu')
    assert files[name] in str(err.value) and what in str(err.value)


@pytest.mark.parametrize('name', ['old', 'evil_mm', 'cut'])
def test_load_from(files, tmp_path, name):
    runner = _runner(tmp_path, load_from=files[name])
    with pytest.raises((UnsafeCheckpointError, CorruptCheckpointError),
                       match=files[name]):
        runner.train()
    assert CALLS == [] and not files['target'].exists()


@pytest.mark.parametrize('name', ['old', 'evil', 'text'])
def test_resume(files, tmp_path, name):
    runner = _runner(tmp_path, load_from=files[name], resume=True)
    with pytest.raises((UnsafeCheckpointError, CorruptCheckpointError),
                       match=files[name]):
        runner.train()
    assert CALLS == [] and not files['target'].exists()


@pytest.mark.parametrize('name', ['old', 'evil', 'cut'])
def test_init_cfg_pretrained(files, name):
    from mmdet_csod.models.backbones import SmallVGG
    model = SmallVGG(init_cfg=dict(type='Pretrained', checkpoint=files[name]))
    with pytest.raises((UnsafeCheckpointError, CorruptCheckpointError),
                       match=files[name]):
        model.init_weights()
    assert not files['target'].exists()


def test_good_checkpoint_still_loads(files, tmp_path):
    runner = _runner(tmp_path, load_from=files['good'])
    runner.train()
    assert CALLS == ['loss', 'loss']


# ------------------------------------------------------ fit to the model
def test_checkpoint_of_another_model_fails_load_from(tmp_path):
    other = str(tmp_path / 'other.pth')
    torch.save(
        dict(
            meta=dict(experiment_name='wide_run'),
            state_dict=_Toy(width=3).state_dict()), other)
    config = tmp_path / 'toy_config.py'
    config.write_text('load_from_partial = False\n')
    cfg = Config.fromfile(str(config))
    runner = _runner(tmp_path, load_from=other, cfg=cfg)
    with pytest.raises(CheckpointMismatchError) as err:
        runner.train()
    msg = str(err.value)
    assert other in msg and str(config) in msg and 'wide_run' in msg
    assert 'fc.weight: (1, 3) in the checkpoint, (1, 2) in the model' in msg
    assert 'load_from_partial=True' in msg
    assert CALLS == []


def test_missing_and_unexpected_keys_are_named(tmp_path):
    sd = _Toy().state_dict()
    sd['extra.weight'] = torch.zeros(1)
    del sd['bn.weight'], sd['bn.num_batches_tracked']
    path = str(tmp_path / 'ckpt.pth')
    torch.save(
        dict(state_dict={
            f'module.{k}': v
            for k, v in sd.items()
        }), path)
    runner = _runner(tmp_path, load_from=path)
    with pytest.raises(CheckpointMismatchError) as err:
        runner.train()
    msg = str(err.value)
    assert '1 key(s) of the model missing from the checkpoint: bn.weight' \
        in msg  # and not num_batches_tracked, which mmengine ignores too
    assert '1 unexpected key(s): extra.weight' in msg
    assert CALLS == []


def test_partial_loading_is_explicit(tmp_path):
    other = str(tmp_path / 'other.pth')
    sd = _Toy().state_dict()
    del sd['bn.weight']
    torch.save(dict(state_dict=sd), other)
    _runner(
        tmp_path, load_from=other,
        cfg=Config(dict(load_from_partial=True))).train()
    assert CALLS == ['loss', 'loss']
    _runner(
        tmp_path,
        load_from=other,
        fit_hook=CheckpointFitHook(allow_partial=True)).train()
    assert CALLS == ['loss', 'loss']


def test_resume_with_another_model_fails(tmp_path):
    first = _runner(tmp_path / 'a')
    first.train()
    ckpt = osp.join(str(tmp_path / 'a'), 'epoch_1.pth')
    assert torch.load(ckpt, weights_only=True)['meta']['epoch'] == 1
    runner = _runner(
        tmp_path / 'b', model=_Toy(width=3), load_from=ckpt, resume=True)
    with pytest.raises(CheckpointMismatchError, match='epoch_1.pth'):
        runner.train()
    assert CALLS == []


class _TTA(BaseTTAModel):

    def merge_preds(self, data_samples_list):
        return data_samples_list[0]


def test_tta_models_are_unwrapped():
    model = _Toy()
    sd = {f'module.{k}': v for k, v in model.state_dict().items()}
    check_checkpoint_fits(_TTA(module=model), dict(state_dict=sd), 'x.pth')
    with pytest.raises(CheckpointMismatchError, match='x.pth'):
        check_checkpoint_fits(
            _TTA(module=_Toy(3)), dict(state_dict=sd), 'x.pth')
