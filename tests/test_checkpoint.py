"""Checkpoints load with torch's safe loader after ``import mmdet_csod``."""
import builtins
import pickle

import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import mmdet_csod  # noqa: F401
from mmdet_csod.utils import load_trusted_checkpoint, safe_globals


def _message_hub_state():
    hub = MessageHub.get_instance('test_checkpoint_hub')
    for i in range(5):
        hub.update_scalar('train/loss', 1.0 / (i + 1))
        hub.update_scalar('train/iter_time', 0.5, count=2)
    hub.update_info('iter', 5)
    return hub.state_dict()


def test_getattr_is_not_allow_listed():
    names = {
        getattr(g, '__name__', None)
        for g in torch.serialization.get_safe_globals()
    }
    assert builtins.getattr not in torch.serialization.get_safe_globals()
    assert 'getattr' not in names
    assert HistoryBuffer in torch.serialization.get_safe_globals()
    assert all(g in torch.serialization.get_safe_globals()
               for g in safe_globals())


def test_mmengine_style_checkpoint_loads_with_weights_only(tmp_path):
    ckpt = dict(
        meta=dict(
            epoch=1, iter=5, seed=0, dataset_meta=dict(classes=('a', 'b'))),
        state_dict={'w': torch.arange(4.)},
        message_hub=_message_hub_state())
    path = tmp_path / 'epoch_1.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path)  # torch >= 2.6: weights_only=True by default
    loaded2 = torch.load(path, weights_only=True)
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    assert buf.mean() == pytest.approx(sum(1 / (i + 1) for i in range(5)) / 5)
    assert buf.current() == pytest.approx(0.2)
    assert buf.statistics('max') == pytest.approx(1.0)
    assert torch.equal(loaded2['state_dict']['w'], torch.arange(4.))
    # what was saved names no callable but the allow-listed classes
    with open(path, 'rb') as f:
        raw = f.read()
    assert b'getattr' not in raw


def _save_as_plain_mmengine(obj, path, monkeypatch):
    """Save the way mmengine 0.10.7 pickles HistoryBuffer on its own."""
    from mmdet_csod.utils import checkpoint
    with monkeypatch.context() as m:
        m.setattr(HistoryBuffer, '__getstate__', checkpoint.MMENGINE_GETSTATE)
        torch.save(obj, path)


def test_old_checkpoint_refused_then_trusted_path(tmp_path, monkeypatch):
    path = tmp_path / 'old.pth'
    _save_as_plain_mmengine(
        dict(message_hub=_message_hub_state()), path, monkeypatch)
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        torch.load(path, weights_only=True)
    with pytest.warns(UserWarning, match='trusted'):
        loaded = load_trusted_checkpoint(str(path))
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert buf.current() == pytest.approx(0.2)


def test_upgrade_checkpoint_tool(tmp_path, monkeypatch):
    from model_converters.upgrade_checkpoint import main
    old, new = tmp_path / 'old.pth', tmp_path / 'new.pth'
    _save_as_plain_mmengine(
        dict(
            state_dict={'w': torch.ones(2)}, message_hub=_message_hub_state()),
        old, monkeypatch)
    main([str(old), str(new)])  # restricted unpickler: no trust needed
    loaded = torch.load(new, weights_only=True)
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == \
        pytest.approx(sum(1 / (i + 1) for i in range(5)) / 5)
