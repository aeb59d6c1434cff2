"""SmallVGG, the small CPU models' backbone: its frozen stages (the small
configs keep the first two as pretrained, as the VGG16 ones keep
conv1-conv2) take no gradient, keep their weights and norm statistics
through training steps, and spare the backward pass over them."""
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

import mmdet_csod  # noqa: F401  registers SmallVGG
from conftest import REPO_ROOT


def _stage_params(model, i):
    return list(model.stages[i].parameters())


def test_frozen_stages_keep_weights_and_norm_statistics():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='SmallVGG', frozen_stages=2))
    model.train()
    frozen = {
        k: v.clone()
        for k, v in model.stages[:2].state_dict().items()
    }
    trained = {k: v.clone() for k, v in model.stages[2].state_dict().items()}
    opt = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1)
    for step in range(2):
        model.train()  # what the runner does every epoch
        x = torch.randn(2, 3, 40, 48)
        (out, ) = model(x)
        assert out.shape == (2, 128, 5, 6)
        opt.zero_grad()
        out.square().mean().backward()
        opt.step()
    for i in (0, 1):
        assert not model.stages[i].training
        assert all(not p.requires_grad and p.grad is None
                   for p in _stage_params(model, i))
    assert all(p.grad is not None for p in _stage_params(model, 2))
    for k, v in model.stages[:2].state_dict().items():
        assert torch.equal(v, frozen[k]), k  # weights, running stats
    changed = [
        k for k, v in model.stages[2].state_dict().items()
        if not torch.equal(v, trained[k])
    ]
    assert any('running_mean' in k for k in changed)
    assert any(k.endswith('conv.weight') for k in changed)


def test_no_backward_through_frozen_stages():
    """The graph starts at the first trained stage: nothing upstream of it
    is recorded for the backward pass (the saving on the full-resolution
    maps)."""
    model = MODELS.build(dict(type='SmallVGG', frozen_stages=2)).train()
    x = torch.randn(1, 3, 32, 32)
    y = model.stages[1](model.stages[0](x))
    assert not y.requires_grad and y.grad_fn is None
    assert model.stages[2](y).requires_grad


def test_small_configs_freeze_the_first_two_stages():
    for path in ('configs/csod/drn_tiny_synthetic.py',
                 'configs/wsod/oicr_small-vgg_synthetic.py',
                 'configs/fast_rcnn/fast_rcnn_small-vgg_synthetic-full.py'):
        cfg = Config.fromfile(f'{REPO_ROOT}/{path}')
        assert cfg.model.backbone.frozen_stages == 2, path
