"""Backbone pretraining on single-object crops: the crop maker and
tools/misc/pretrain_backbone.py (a short run)."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, load_tool
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmdet_csod.synthetic import CLASSES, make_crop_batch

CONFIG = 'configs/csod/drn_tiny_synthetic.py'
TOOL = 'tools/misc/pretrain_backbone.py'


def _tool():
    return load_tool(TOOL)


def test_crop_batch_is_deterministic_with_labels_in_range():
    imgs, labels = make_crop_batch(np.random.default_rng(3), 12, size=48)
    again, labels2 = make_crop_batch(np.random.default_rng(3), 12, size=48)
    assert imgs.shape == (12, 48, 48, 3) and imgs.dtype == np.uint8
    assert labels.shape == (12, ) and labels.dtype == np.int64
    np.testing.assert_array_equal(imgs, again)
    np.testing.assert_array_equal(labels, labels2)
    other, _ = make_crop_batch(np.random.default_rng(4), 12, size=48)
    assert not np.array_equal(imgs, other)
    _, many = make_crop_batch(np.random.default_rng(5), 200, size=32)
    assert many.min() >= 0 and many.max() < len(CLASSES)
    assert len(np.unique(many)) == len(CLASSES)


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('pretrain') / 'small_vgg.pth')
    path = _tool().main([
        '--iters', '30', '--batch-size', '16', '--size', '64', '--workers',
        '0', '--out', out
    ])
    assert path == out and osp.isfile(out)
    return out


def test_checkpoint_holds_the_backbone_only(pretrained):
    ckpt = torch.load(pretrained, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'meta', 'state_dict'}
    backbone = MODELS.build(dict(type='SmallVGG'))
    expected = {f'backbone.{k}' for k in backbone.state_dict()}
    assert set(ckpt['state_dict']) == expected
    meta = ckpt['meta']
    assert meta['iters'] == 30 and meta['seed'] == 0
    assert meta['classes'] == list(CLASSES)
    assert 0.0 <= meta['accuracy'] <= 1.0
    losses = meta['losses']
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def test_loads_into_the_drn_backbone(pretrained):
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    model = MODELS.build(cfg.model)
    saved = torch.load(
        pretrained, map_location='cpu', weights_only=True)['state_dict']
    before = {k: v.clone() for k, v in model.state_dict().items()}
    key = 'backbone.stages.0.0.conv.weight'
    assert not torch.equal(before[key], saved[key])
    load_checkpoint(model, pretrained, map_location='cpu', strict=False)
    after = model.state_dict()
    for k, v in saved.items():
        assert torch.equal(after[k], v), k
    for k, v in after.items():
        if not k.startswith('backbone.'):
            assert torch.equal(v, before[k]), k


def test_yard_family_crops_and_checkpoint(tmp_path):
    """--family yard: crops of the yard scenes' classes on their background,
    and a checkpoint whose meta names them."""
    from mmdet_csod.synthetic import YARD_CLASSES
    imgs, labels = make_crop_batch(
        np.random.default_rng(3), 40, size=48, family='yard')
    default, _ = make_crop_batch(np.random.default_rng(3), 40, size=48)
    assert imgs.shape == (40, 48, 48, 3) and labels.max() < len(YARD_CLASSES)
    assert not np.array_equal(imgs, default)
    with pytest.raises(ValueError, match='family must be one of'):
        make_crop_batch(np.random.default_rng(3), 2, family='street')
    out = str(tmp_path / 'yard.pth')
    _tool().main([
        '--family', 'yard', '--iters', '2', '--batch-size', '4', '--size',
        '32', '--workers', '0', '--out', out
    ])
    meta = torch.load(out, map_location='cpu', weights_only=True)['meta']
    assert meta['family'] == 'yard' and meta['classes'] == list(YARD_CLASSES)
