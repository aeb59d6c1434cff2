"""upgrade_checkpoint.py reads old checkpoints with a restricted unpickler:
what a real mmengine checkpoint holds loads, anything else is refused by
name and runs nothing."""
import io
import os
import os.path as osp
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import REPO_ROOT
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmdet_csod.utils import (RefusedGlobalError, load_restricted,
                              scan_checkpoint)
from mmdet_csod.utils import checkpoint as ckpt_module
from model_converters.upgrade_checkpoint import main

TOOL = 'tools/model_converters/upgrade_checkpoint.py'


class _Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)
        self.bn = nn.BatchNorm1d(1)

    def forward(self, x, y=None, mode='loss'):
        out = self.bn(self.fc(torch.stack(x) if isinstance(x, list) else x))
        if mode == 'loss':
            return dict(loss=((out.squeeze(-1) - y)**2).mean())
        return [out]


class _Data(Dataset):
    metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(x=torch.tensor([i, 1.]), y=torch.tensor(float(i)))


def save_real_checkpoint(work_dir, plain_mmengine=True, monkeypatch=None):
    """One epoch of a tiny mmengine Runner (SGD with momentum, LinearLR and
    MultiStepLR, the message hub): its epoch_1.pth, pickled the way plain
    mmengine does (``plain_mmengine``) or the way this project does."""
    with monkeypatch.context() as m:
        if plain_mmengine:
            m.setattr(HistoryBuffer, '__getstate__',
                      ckpt_module.MMENGINE_GETSTATE)
        runner = Runner(
            model=_Toy(),
            work_dir=str(work_dir),
            train_dataloader=dict(
                dataset=_Data(),
                sampler=dict(type='DefaultSampler', shuffle=True),
                batch_size=4,
                collate_fn=dict(type='default_collate')),
            optim_wrapper=dict(
                optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
            param_scheduler=[
                dict(type='LinearLR', start_factor=0.1, by_epoch=False, end=2),
                dict(type='MultiStepLR', milestones=[1], by_epoch=True)
            ],
            train_cfg=dict(by_epoch=True, max_epochs=1),
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', interval=1)),
            randomness=dict(seed=0),
            default_scope='mmdet')
        runner.train()
    return osp.join(str(work_dir), 'epoch_1.pth'), runner


def test_what_real_mmengine_checkpoints_hold(tmp_path, monkeypatch):
    plain, _ = save_real_checkpoint(tmp_path / 'plain', True, monkeypatch)
    ours, _ = save_real_checkpoint(tmp_path / 'ours', False, monkeypatch)
    found = set(scan_checkpoint(plain).globals)
    assert {
        'builtins.getattr', 'collections.OrderedDict', 'collections.Counter',
        'mmengine.logging.history_buffer.HistoryBuffer',
        'numpy._core.multiarray._reconstruct', 'numpy.ndarray', 'numpy.dtype',
        'torch._utils._rebuild_tensor_v2', '_codecs.encode'
    } <= found
    assert set(scan_checkpoint(ours).globals) == found - {'builtins.getattr'}
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        torch.load(plain, weights_only=True)
    torch.load(ours, weights_only=True)


def test_upgrades_a_real_plain_mmengine_checkpoint(tmp_path, monkeypatch):
    src, runner = save_real_checkpoint(tmp_path, True, monkeypatch)
    dst = str(tmp_path / 'new.pth')
    main([src, dst])
    new = torch.load(dst, weights_only=True)
    old = load_restricted(src)
    assert set(new) == {
        'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers'
    }
    for k, v in old['state_dict'].items():
        assert torch.equal(new['state_dict'][k], v)
    buf = new['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    ref = runner.message_hub.get_scalar('train/loss')
    assert buf.mean() == pytest.approx(ref.mean())
    assert buf.statistics('current') == pytest.approx(ref.current())
    assert new['param_schedulers'][1]['milestones'] == {1: 1}
    momentum = new['optimizer']['state'][0]['momentum_buffer']
    assert torch.equal(momentum,
                       old['optimizer']['state'][0]['momentum_buffer'])


def test_upgrades_torch_legacy_format(tmp_path, monkeypatch):
    src, _ = save_real_checkpoint(tmp_path, True, monkeypatch)
    legacy = str(tmp_path / 'legacy.pth')
    with monkeypatch.context() as m:
        m.setattr(HistoryBuffer, '__getstate__', ckpt_module.MMENGINE_GETSTATE)
        torch.save(
            load_restricted(src), legacy, _use_new_zipfile_serialization=False)
    assert scan_checkpoint(legacy).kind == 'legacy'
    main([legacy, str(tmp_path / 'new.pth')])
    new = torch.load(str(tmp_path / 'new.pth'), weights_only=True)
    assert new['message_hub']['log_scalars']['train/loss'].mean() > 0


def _rewrite_pickle(src, dst, old: bytes, new: bytes):
    """Copy a torch zip checkpoint with ``old`` replaced in data.pkl (text
    GLOBAL opcodes of pickle protocol 2 may change length)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w') as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith('data.pkl'):
                assert old in data
                data = data.replace(old, new)
            zout.writestr(item, data)


def test_numpy1_spelling_loads(tmp_path, monkeypatch):
    """Files written with numpy 1.x name numpy.core.multiarray."""
    src, _ = save_real_checkpoint(tmp_path, False, monkeypatch)
    np1 = str(tmp_path / 'np1.pth')
    _rewrite_pickle(src, np1, b'numpy._core.multiarray',
                    b'numpy.core.multiarray')
    assert 'numpy.core.multiarray._reconstruct' in scan_checkpoint(np1).globals
    loaded = torch.load(np1, weights_only=True)  # import mmdet_csod
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() > 0
    assert load_restricted(np1)['meta']['epoch'] == 1


class _System:
    """Pickles as os.system('touch TARGET')."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f'touch {self.target}', ))


class _Eval:

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (eval, (f"open({self.target!r}, 'w').close()", ))


class _BoundMethod:
    """Pickles as getattr(np.zeros(1), 'tofile'): a callable that writes."""

    def __call__(self, *args):
        pass

    def __reduce__(self):
        return (getattr, (np.zeros(1), 'tofile'))


class _ToFile:

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (_BoundMethod(), (self.target, ))


class _HistoryBufferGetattr(_BoundMethod):
    """getattr on HistoryBuffer, but not a statistics method."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, 'register_statistics'))


@pytest.mark.parametrize('payload,refused', [
    (_System, os.system.__module__ + '.system'),
    (_Eval, 'builtins.eval'),
    (_ToFile, 'builtins.getattr'),
    (lambda target: _HistoryBufferGetattr(), 'builtins.getattr'),
])
@pytest.mark.parametrize('legacy', [False, True])
def test_crafted_file_creates_nothing(tmp_path, payload, refused, legacy):
    target = tmp_path / 'pwned'
    src, dst = str(tmp_path / 'evil.pth'), str(tmp_path / 'new.pth')
    torch.save(
        dict(
            meta=dict(epoch=1),
            state_dict={'w': torch.ones(2)},
            message_hub=dict(log_scalars={'x': payload(str(target))})),
        src,
        _use_new_zipfile_serialization=not legacy)
    with pytest.raises(RefusedGlobalError) as err:
        main([src, dst])
    assert refused in str(err.value)
    assert src in str(err.value)
    assert not target.exists()
    assert not osp.exists(dst) and not osp.exists(dst + '.tmp')


def test_crafted_file_through_the_command_line(tmp_path):
    target = tmp_path / 'pwned'
    src = str(tmp_path / 'evil.pth')
    torch.save(dict(meta={}, x=_System(str(target))), src)
    proc = subprocess.run(
        [sys.executable, TOOL, src,
         str(tmp_path / 'new.pth')],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True)
    assert proc.returncode != 0
    assert f'{os.system.__module__}.system' in proc.stderr
    assert not target.exists()
    assert not (tmp_path / 'new.pth').exists()


def test_plain_pickle_with_a_payload_is_refused_by_the_unpickler(tmp_path):
    from mmdet_csod.utils import RestrictedUnpickler
    target = tmp_path / 'pwned'
    data = pickle.dumps({'a': _System(str(target))}, protocol=4)
    with pytest.raises(RefusedGlobalError, match=r'(posix|nt)\.system'):
        RestrictedUnpickler(io.BytesIO(data)).load()
    assert not target.exists()
    # what a checkpoint holds goes through
    buf = HistoryBuffer()
    buf.update(2.0)
    data = pickle.dumps({'h': buf, 'a': np.arange(3)}, protocol=2)
    out = RestrictedUnpickler(io.BytesIO(data)).load()
    assert out['h'].mean() == 2.0 and out['a'].tolist() == [0, 1, 2]


def test_truncated_and_foreign_files(tmp_path, monkeypatch):
    from mmdet_csod.utils import CorruptCheckpointError
    src, _ = save_real_checkpoint(tmp_path, True, monkeypatch)
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(open(src, 'rb').read()[:2000])
    with pytest.raises(CorruptCheckpointError, match=str(cut)):
        main([str(cut), str(tmp_path / 'new.pth')])
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint')
    with pytest.raises(CorruptCheckpointError, match='not-a-checkpoint'):
        main([str(text), str(tmp_path / 'new.pth')])
