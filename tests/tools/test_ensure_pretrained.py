"""tools/train.py makes the crop-pretrained backbone when it is missing."""
import os.path as osp
import threading

import _bootstrap
import pytest
from mmengine.config import Config


def _cfg(path, backbone='SmallVGG'):
    return Config(dict(model=dict(backbone=dict(
        type=backbone,
        init_cfg=dict(type='Pretrained', checkpoint=str(path),
                      prefix='backbone.')))))


def test_missing_checkpoint_is_made_once_by_rank_0(tmp_path, monkeypatch):
    path = tmp_path / 'ckpt' / 'small_vgg_crops.pth'
    calls = []

    def fake_run(cmd, check):
        calls.append(cmd)
        path.parent.mkdir()
        path.write_bytes(b'weights')

    monkeypatch.setattr(_bootstrap.subprocess, 'run', fake_run)
    monkeypatch.delenv('RANK', raising=False)
    _bootstrap.ensure_pretrained_backbone(_cfg(path))
    assert len(calls) == 1
    assert calls[0][1].endswith(osp.join('tools', 'misc',
                                         'pretrain_backbone.py'))
    assert calls[0][2:] == ['--out', str(path)]
    _bootstrap.ensure_pretrained_backbone(_cfg(path))  # there: nothing runs
    assert len(calls) == 1


def test_other_ranks_wait_for_the_file(tmp_path, monkeypatch):
    path = tmp_path / 'small_vgg_crops.pth'
    monkeypatch.setenv('RANK', '1')
    monkeypatch.setattr(_bootstrap.subprocess, 'run', None)  # never called
    timer = threading.Timer(0.2, path.write_bytes, args=(b'weights', ))
    timer.start()
    _bootstrap.ensure_pretrained_backbone(_cfg(path), wait_s=10, poll_s=0.05)
    timer.join()
    with pytest.raises(TimeoutError, match='rank 0 did not make'):
        _bootstrap.ensure_pretrained_backbone(
            _cfg(tmp_path / 'never.pth'), wait_s=0.1, poll_s=0.05)


def test_other_backbones_and_remote_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'model.backbone.init_cfg.checkpoint'):
        _bootstrap.ensure_pretrained_backbone(
            _cfg(tmp_path / 'vgg16.pth', backbone='WSODVGG16'))
    # URLs are mmengine's to fetch; configs without Pretrained are left alone
    _bootstrap.ensure_pretrained_backbone(_cfg('torchvision://vgg16'))
    _bootstrap.ensure_pretrained_backbone(
        Config(dict(model=dict(backbone=dict(type='SmallVGG')))))
