"""VGG16 weights (torchvision / Caffe) -> mmdet checkpoint for WSODVGG16.

State dicts use the real key names and conv shapes with random values; fc6
(4096 x 25088, 400 MB) and fc7 get small stand-ins, converted with
``check_fc_shapes=False`` or with their real shapes left unallocated
(``torch.empty``), except where the real-shape check itself is tested.
The builders cache their random tensors: tests change the dicts they get,
never the tensors.
"""
import functools
import os.path as osp
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.runner import load_checkpoint
from model_converters.vgg16_to_mmdet import (PIXEL_NORMALIZATION,
                                             VGG16WeightsError,
                                             convert_vgg16_file,
                                             convert_vgg16_state_dict,
                                             load_vgg16_state_dict)
from torch import nn

from mmdet_csod.models.backbones import WSODVGG16

CONV_NAMES = ('conv1_1', 'conv1_2', 'conv2_1', 'conv2_2', 'conv3_1', 'conv3_2',
              'conv3_3', 'conv4_1', 'conv4_2', 'conv4_3', 'conv5_1', 'conv5_2',
              'conv5_3')
CONV_CHANNELS = ((3, 64), (64, 64), (64, 128), (128, 128), (128, 256),
                 (256, 256), (256, 256), (256, 512), (512, 512), (512, 512),
                 (512, 512), (512, 512), (512, 512))
# torchvision's vgg16 'D' configuration: ints are 3x3 convs (+ ReLU),
# 'M' 2x2 max pools; written out here, torchvision is not a dependency.
TORCHVISION_CFG = (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512,
                   512, 'M', 512, 512, 512, 'M')
SMALL_FC = dict(fc6=(8, 32), fc7=(8, 8), fc8=(10, 8))
SMALL_FC_SHAPES = {
    'fc6.weight': (8, 32),
    'fc6.bias': (8, ),
    'fc7.weight': (8, 8),
    'fc7.bias': (8, ),
}
CONVERTER = 'tools/model_converters/vgg16_to_mmdet.py'


def _torchvision_features(upto=30):
    """torchvision's ``vgg16().features[:upto]``, rebuilt by hand."""
    layers, c_in = [], 3
    for v in TORCHVISION_CFG:
        if v == 'M':
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(c_in, v, 3, padding=1), nn.ReLU(True)]
            c_in = v
    return nn.Sequential(*layers[:upto])


def _torchvision_state_dict(seed=0, fc=SMALL_FC):
    """Real vgg16 keys: the features' state dict plus the classifier."""
    return dict(_cached_torchvision(seed, tuple(fc.items())))


def _caffe_state_dict(spelling='dot', seed=0, fc=SMALL_FC):
    """Real Caffe keys: ``conv1_1.weight`` ('dot') or ``conv1_1_w``."""
    return dict(_cached_caffe(spelling, seed, tuple(fc.items())))


@functools.lru_cache
def _cached_torchvision(seed, fc):
    fc = dict(fc)
    torch.manual_seed(seed)
    features = _torchvision_features(31)
    for p in features.parameters():
        nn.init.normal_(p, std=0.05)
    sd = {f'features.{k}': v for k, v in features.state_dict().items()}
    for index, name in ((0, 'fc6'), (3, 'fc7'), (6, 'fc8')):
        out, inp = fc[name]
        sd[f'classifier.{index}.weight'] = torch.randn(out, inp)
        sd[f'classifier.{index}.bias'] = torch.randn(out)
    return sd


@functools.lru_cache
def _cached_caffe(spelling, seed, fc):
    torch.manual_seed(seed)

    def key(layer, param):
        return (f'{layer}.{param}'
                if spelling == 'dot' else f'{layer}_{param[0]}')

    sd = {}
    for name, (c_in, c_out) in zip(CONV_NAMES, CONV_CHANNELS):
        sd[key(name, 'weight')] = torch.randn(c_out, c_in, 3, 3) * 0.05
        sd[key(name, 'bias')] = torch.randn(c_out) * 0.05
    for name, (out, inp) in fc:
        sd[key(name, 'weight')] = torch.randn(out, inp)
        sd[key(name, 'bias')] = torch.randn(out)
    return sd


def _backbone_only(state_dict):
    return {
        k[len('backbone.'):]: v
        for k, v in state_dict.items() if k.startswith('backbone.')
    }


def _input(h, w, seed=1):
    torch.manual_seed(seed)
    return torch.randn(1, 3, h, w) * 50


def test_torchvision_mapping():
    src = _torchvision_state_dict()
    out = convert_vgg16_state_dict(src, 'torchvision', check_fc_shapes=False)
    indices = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
    expected = {}
    for name, index in zip(CONV_NAMES, indices):
        for param in ('weight', 'bias'):
            expected[f'backbone.{name}.{param}'] = \
                src[f'features.{index}.{param}']
    for fc, index in ((0, 0), (1, 3)):
        for param in ('weight', 'bias'):
            expected[f'roi_head.shared_fcs.{fc}.{param}'] = \
                src[f'classifier.{index}.{param}']
    assert set(out) == set(expected)  # classifier.6 (fc8) dropped
    for key, value in expected.items():
        assert torch.equal(out[key], value), key


@pytest.mark.parametrize('spelling', ['dot', 'detectron'])
def test_caffe_mapping(spelling):
    src = _caffe_state_dict(spelling)
    out = convert_vgg16_state_dict(
        src,
        'caffe',
        fc_prefix='roi_head.bbox_head.shared_fcs',
        expected_shapes=SMALL_FC_SHAPES)
    assert len(out) == 30
    for name in CONV_NAMES + ('fc6', 'fc7'):
        for param in ('weight', 'bias'):
            src_key = (f'{name}.{param}'
                       if spelling == 'dot' else f'{name}_{param[0]}')
            if name.startswith('fc'):
                dst_key = (f'roi_head.bbox_head.shared_fcs.'
                           f'{int(name[2]) - 6}.{param}')
            else:
                dst_key = f'backbone.{name}.{param}'
            assert torch.equal(out[dst_key], src[src_key]), dst_key


def test_no_fc_drops_fc_layers():
    out = convert_vgg16_state_dict(
        _caffe_state_dict('detectron', fc={}), 'caffe', with_fc=False)
    assert len(out) == 26 and all(k.startswith('backbone.') for k in out)
    out = convert_vgg16_state_dict(
        _torchvision_state_dict(), 'torchvision', with_fc=False)
    assert len(out) == 26


def test_real_fc_shapes_checked_by_default():
    # real shapes, never written: torch.empty leaves the 400 MB untouched
    real = dict(fc6=(4096, 25088), fc7=(4096, 4096), fc8=(1000, 4096))
    src = _caffe_state_dict(fc={})
    for name, shape in real.items():
        src[f'{name}.weight'] = torch.empty(shape)
        src[f'{name}.bias'] = torch.empty(shape[0])
    out = convert_vgg16_state_dict(src, 'caffe')
    assert out['roi_head.shared_fcs.0.weight'].shape == (4096, 25088)
    # not copied
    assert out['roi_head.shared_fcs.0.weight'].data_ptr() == \
        src['fc6.weight'].data_ptr()
    del src, out
    with pytest.raises(VGG16WeightsError) as err:
        convert_vgg16_state_dict(_caffe_state_dict(), 'caffe', source='x.pth')
    msg = str(err.value)
    assert "'fc6.weight'" in msg and "'fc7.weight'" in msg
    assert 'expected [4096, 25088], found [8, 32]' in msg


@pytest.mark.parametrize('ceil_mode, size', [(True, (64, 80)),
                                             (False, (50, 70))])
def test_forward_matches_torchvision_features(ceil_mode, size):
    src = _torchvision_state_dict(seed=3)
    reference = _torchvision_features(30).eval()  # up to conv5_3 + ReLU
    reference.load_state_dict({
        k[len('features.'):]: v
        for k, v in src.items() if k.startswith('features.')
    })
    out = convert_vgg16_state_dict(src, 'torchvision', check_fc_shapes=False)
    model = WSODVGG16(ceil_mode=ceil_mode).eval()
    model.load_state_dict(_backbone_only(out), strict=True)
    x = _input(*size)
    with torch.no_grad():
        expected = reference(x)
        got, = model(x)
    assert got.shape == expected.shape
    assert got.shape[1:] == (512, size[0] // 16, size[1] // 16)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert expected.abs().sum() > 0


def _save(obj, path):
    torch.save(obj, path)
    return str(path)


@pytest.mark.parametrize('fmt, spelling', [('torchvision', None),
                                           ('caffe', 'dot'),
                                           ('caffe', 'detectron')])
def test_file_roundtrip_and_load(tmp_path, fmt, spelling):
    src = (
        _torchvision_state_dict()
        if fmt == 'torchvision' else _caffe_state_dict(spelling))
    # a dict with a 'state_dict' key is accepted as well as a bare one
    src_path = _save(
        dict(state_dict=src) if fmt == 'caffe' else src, tmp_path / 'in.pth')
    dst = str(tmp_path / 'out.pth')
    convert_vgg16_file(src_path, dst, fmt, expected_shapes=SMALL_FC_SHAPES)
    ckpt = torch.load(dst, weights_only=True)
    meta = ckpt['meta']
    assert meta['source_format'] == fmt and meta['source'] == src_path
    norm = PIXEL_NORMALIZATION[fmt]
    assert meta['mean'] == norm['mean'] and meta['std'] == norm['std']
    assert meta['bgr_to_rgb'] is (fmt == 'torchvision')
    assert meta['data_preprocessor']['type'] == 'DetDataPreprocessor'
    assert meta['fc_prefix'] == 'roi_head.shared_fcs'
    sd = ckpt['state_dict']
    assert len(sd) == 30

    # strict load of the backbone part
    model = WSODVGG16()
    result = model.load_state_dict(_backbone_only(sd), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    # mmengine's loader with the prefix stripped
    model = WSODVGG16()
    load_checkpoint(
        model,
        dst,
        map_location='cpu',
        strict=False,
        revise_keys=[(r'^backbone\.', '')])
    for name, value in _backbone_only(sd).items():
        assert torch.equal(model.state_dict()[name], value), name
    # a Pretrained init_cfg
    model = WSODVGG16(
        init_cfg=dict(type='Pretrained', checkpoint=dst, prefix='backbone.'))
    model.init_weights()
    first, last = ('features.0.weight', 'features.28.bias') \
        if fmt == 'torchvision' else (
            ('conv1_1.weight', 'conv5_3.bias') if spelling == 'dot' else
            ('conv1_1_w', 'conv5_3_b'))
    assert torch.equal(model.conv1_1.weight, src[first])
    assert torch.equal(model.conv5_3.bias, src[last])


def test_bad_inputs_name_key_and_file(tmp_path):
    path = str(tmp_path / 'vgg16.pth')

    src = _torchvision_state_dict()
    del src['features.10.weight']
    with pytest.raises(VGG16WeightsError) as err:
        convert_vgg16_state_dict(
            src, 'torchvision', check_fc_shapes=False, source=path)
    assert "'features.10.weight'" in str(err.value)
    assert 'conv3_1.weight' in str(err.value) and path in str(err.value)

    src = _caffe_state_dict('detectron')
    src['conv3_1_w'] = torch.zeros(256, 64, 3, 3)
    with pytest.raises(VGG16WeightsError) as err:
        convert_vgg16_state_dict(
            src, 'caffe', check_fc_shapes=False, source=path)
    msg = str(err.value)
    assert "'conv3_1_w'" in msg and path in msg
    assert 'expected [256, 128, 3, 3], found [256, 64, 3, 3]' in msg

    src = _caffe_state_dict('dot')
    src['conv6.weight'] = torch.zeros(1)
    src['fc8.weight'] = torch.zeros(3, 8)  # fc8 is dropped, never an error
    with pytest.raises(VGG16WeightsError) as err:
        convert_vgg16_state_dict(
            src, 'caffe', check_fc_shapes=False, source=path)
    msg = str(err.value)
    assert "'conv6.weight'" in msg and path in msg and 'fc8' not in msg
    out = convert_vgg16_state_dict(
        src, 'caffe', check_fc_shapes=False, ignore_extra=True)
    assert len(out) == 30 and not any('conv6' in k for k in out)

    # both spellings of one parameter
    src = _caffe_state_dict('dot')
    src['conv1_1_w'] = src['conv1_1.weight']
    with pytest.raises(VGG16WeightsError, match="'conv1_1_w'"):
        convert_vgg16_state_dict(src, 'caffe', check_fc_shapes=False)

    # the wrong --format: every key missing, and a hint
    with pytest.raises(VGG16WeightsError) as err:
        convert_vgg16_state_dict(
            _torchvision_state_dict(), 'caffe', source=path)
    assert "look like the 'torchvision' format" in str(err.value)


def test_cli(tmp_path, capsys):
    from model_converters.vgg16_to_mmdet import main
    src = _save(_caffe_state_dict('detectron'), tmp_path / 'caffe.pth')
    dst = str(tmp_path / 'out.pth')

    # the default path checks fc6 / fc7 against the real VGG16 shapes
    with pytest.raises(SystemExit) as err:
        main([src, dst, '--format', 'caffe'])
    msg = str(err.value.code)
    assert "'fc6_w'" in msg and src in msg and '[4096, 25088]' in msg
    assert not osp.exists(dst)

    main([src, dst, '--format', 'caffe', '--no-fc'])
    printed = capsys.readouterr().out
    assert 'bgr_to_rgb=False' in printed and '102.9801' in printed
    ckpt = torch.load(dst, weights_only=True)
    assert len(ckpt['state_dict']) == 26
    assert ckpt['meta']['with_fc'] is False
    assert load_vgg16_state_dict(dst).keys() == ckpt['state_dict'].keys()

    with pytest.raises(SystemExit):
        main([src, dst, '--format', 'keras'])


def test_cli_script_from_another_directory(tmp_path):
    src = _save(_torchvision_state_dict(), tmp_path / 'tv.pth')
    dst = str(tmp_path / 'out.pth')
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, CONVERTER), src, dst, '--format', 'torchvision',
        '--no-fc'
    ],
                          cwd=str(tmp_path),
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'bgr_to_rgb=True' in proc.stdout and '58.395' in proc.stdout
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['source_format'] == 'torchvision'
    assert len(ckpt['state_dict']) == 26
