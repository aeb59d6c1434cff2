"""WSODVGG16: output sizes, dilated conv5, frozen stages, gradients, init."""
import math

import pytest
import torch
from mmdet.registry import MODELS

import mmdet_csod  # noqa: F401  registers WSODVGG16
from mmdet_csod.models.backbones import WSODVGG16

CONV_NAMES = ('conv1_1', 'conv1_2', 'conv2_1', 'conv2_2', 'conv3_1', 'conv3_2',
              'conv3_3', 'conv4_1', 'conv4_2', 'conv4_3', 'conv5_1', 'conv5_2',
              'conv5_3')


def _input(h=64, w=80, seed=0):
    torch.manual_seed(seed)
    return torch.randn(1, 3, h, w)


def test_layers_and_attributes():
    model = WSODVGG16()
    assert model.out_channels == 512 and model.stride == 16
    for name in CONV_NAMES:
        conv = getattr(model, name)
        assert isinstance(conv, torch.nn.Conv2d)
        assert conv.kernel_size == (3, 3) and conv.bias is not None
        assert conv.padding == (1, 1) and conv.dilation == (1, 1)
    assert model.conv1_1.in_channels == 3
    assert model.conv5_3.out_channels == 512
    assert [n for n, _ in model.named_children() if n.startswith('pool')] \
        == ['pool1', 'pool2', 'pool3', 'pool4']
    # VGG16's 138.36M parameters less fc6-fc8's 123.64M
    assert sum(p.numel() for p in model.parameters()) == 14714688


@pytest.mark.parametrize('dilate, stride', [(False, 16), (True, 8)])
def test_output_shape(dilate, stride):
    model = WSODVGG16(dilate_conv5=dilate).eval()
    assert model.stride == stride
    with torch.no_grad():
        outs = model(_input(64, 80))
    assert isinstance(outs, tuple) and len(outs) == 1
    assert outs[0].shape == (1, 512, 64 // stride, 80 // stride)
    assert (outs[0] >= 0).all()  # ends with conv5_3's ReLU, no pool5


@pytest.mark.parametrize('dilate', [False, True])
@pytest.mark.parametrize('ceil_mode', [True, False])
def test_output_size_formula(dilate, ceil_mode):
    model = WSODVGG16(dilate_conv5=dilate, ceil_mode=ceil_mode).eval()
    h, w = 50, 70
    rnd = math.ceil if ceil_mode else math.floor
    with torch.no_grad():
        out, = model(_input(h, w))
    s = model.stride
    assert out.shape == (1, 512, rnd(h / s), rnd(w / s))


def test_dilated_conv5():
    model = WSODVGG16(dilate_conv5=True)
    for name in ('conv5_1', 'conv5_2', 'conv5_3'):
        conv = getattr(model, name)
        assert conv.dilation == (2, 2) and conv.padding == (2, 2)
    assert model.conv4_3.dilation == (1, 1)
    assert not hasattr(model, 'pool4')
    # same parameters, so the same checkpoint loads into both variants
    plain = WSODVGG16()
    model.load_state_dict(plain.state_dict())


def _frozen(model):
    return {
        name
        for name in CONV_NAMES
        if not any(p.requires_grad for p in getattr(model, name).parameters())
    }


@pytest.mark.parametrize('frozen_stages, frozen', [
    (2, set(CONV_NAMES[:4])),
    (1, {'conv1_1', 'conv1_2'}),
    (0, set()),
    (-1, set()),
    (5, set(CONV_NAMES)),
])
def test_frozen_stages(frozen_stages, frozen):
    model = WSODVGG16(frozen_stages=frozen_stages)
    assert _frozen(model) == frozen
    model.train()
    assert _frozen(model) == frozen
    assert all(
        p.requires_grad for name in set(CONV_NAMES) - frozen
        for p in getattr(model, name).parameters())


def test_default_freezes_conv1_conv2():
    assert _frozen(WSODVGG16().train()) == set(CONV_NAMES[:4])


def test_invalid_frozen_stages():
    with pytest.raises(ValueError, match='frozen_stages'):
        WSODVGG16(frozen_stages=6)


@pytest.mark.parametrize('dilate', [False, True])
def test_gradients(dilate):
    model = WSODVGG16(dilate_conv5=dilate).train()
    out, = model(_input(32, 48))
    out.pow(2).mean().backward()
    for name in CONV_NAMES[4:]:
        grad = getattr(model, name).weight.grad
        assert grad is not None and grad.abs().sum() > 0, name
    for name in CONV_NAMES[:4]:
        assert getattr(model, name).weight.grad is None, name


def test_build_from_registry():
    model = MODELS.build(
        dict(type='WSODVGG16', dilate_conv5=True, frozen_stages=1))
    assert isinstance(model, WSODVGG16)
    assert model.stride == 8 and model.frozen_stages == 1
    with torch.no_grad():
        out, = model.eval()(_input(64, 80))
    assert out.shape == (1, 512, 8, 10)


def test_default_init_is_kaiming():
    torch.manual_seed(0)
    model = WSODVGG16()
    for name in CONV_NAMES:
        getattr(model, name).bias.data.fill_(1.0)
    model.init_weights()
    for name in ('conv1_1', 'conv3_1', 'conv5_3'):
        conv = getattr(model, name)
        assert torch.all(conv.bias == 0)
        fan_out = conv.out_channels * 9
        expected = math.sqrt(2.0 / fan_out)
        assert conv.weight.std().item() == pytest.approx(expected, rel=0.1)
