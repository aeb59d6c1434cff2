"""SeparableRoIAlign against mmcv's RoIAlign kernel, both directions."""
import importlib

import pytest
import torch
from mmcv.ops import RoIAlign
from mmdet.registry import MODELS

import mmdet_csod.models  # noqa: F401
from mmdet_csod.models.layers import SeparableRoIAlign, separable_roi_align


def _rois(num_imgs, per_img, height, width, stride, seed=0):
    """RoIs in image pixels; some reach past the map, some are tiny."""
    gen = torch.Generator().manual_seed(seed)
    size = torch.tensor([width * stride, height * stride], dtype=torch.float)
    rois = []
    for img in range(num_imgs):
        xy = torch.rand(per_img, 2, generator=gen) * size * 1.1 - 2 * stride
        wh = torch.rand(per_img, 2, generator=gen) * size * 0.7 + 0.5
        rois.append(
            torch.cat([torch.full((per_img, 1), float(img)), xy, xy + wh], 1))
    return torch.cat(rois)


@pytest.mark.parametrize('sampling_ratio', [0, 2])
@pytest.mark.parametrize('aligned', [True, False])
def test_matches_mmcv_forward_and_backward(sampling_ratio, aligned):
    torch.manual_seed(0)
    feats = torch.randn(3, 8, 13, 17, dtype=torch.float64, requires_grad=True)
    rois = _rois(3, 20, 13, 17, stride=8).double()
    rois = rois[torch.randperm(len(rois))]  # images interleaved
    ref = RoIAlign((7, 5), 1 / 8, sampling_ratio, aligned=aligned)
    grad_out = torch.randn(len(rois), 8, 7, 5, dtype=torch.float64)

    expected = ref(feats, rois)
    expected_grad, = torch.autograd.grad((expected * grad_out).sum(), feats)
    got = separable_roi_align(feats, rois, (7, 5), 1 / 8, sampling_ratio,
                              aligned)
    got_grad, = torch.autograd.grad((got * grad_out).sum(), feats)

    assert got.shape == expected.shape == (60, 8, 7, 5)
    assert torch.allclose(got, expected, atol=1e-5)
    assert torch.allclose(got_grad, expected_grad, atol=1e-5)
    # RoIs off the map pool zeros in both
    assert expected.abs().sum() > 0


def test_rois_pooled_in_chunks_give_the_same(monkeypatch):
    module = importlib.import_module(
        'mmdet_csod.models.layers.separable_roi_align')
    feats = torch.randn(2, 4, 9, 11, dtype=torch.float64)
    rois = _rois(2, 15, 9, 11, stride=4).double()
    whole = separable_roi_align(feats, rois, (3, 3), 0.25, 2)
    monkeypatch.setattr(module, 'ROI_CHUNK', 4)
    assert torch.allclose(
        separable_roi_align(feats, rois, (3, 3), 0.25, 2), whole, atol=1e-12)
    assert torch.allclose(
        whole, RoIAlign(3, 0.25, 2)(feats, rois), atol=1e-5)


def test_roi_outside_the_map_is_zero_and_empty_rois():
    feats = torch.randn(1, 4, 6, 6)
    layer = SeparableRoIAlign(3, spatial_scale=1.0, sampling_ratio=2)
    far = torch.tensor([[0., 20., 20., 30., 30.]])
    assert torch.equal(layer(feats, far), torch.zeros(1, 4, 3, 3))
    assert torch.equal(
        RoIAlign(3, 1.0, 2)(feats, far), torch.zeros(1, 4, 3, 3))
    assert layer(feats, torch.zeros(0, 5)).shape == (0, 4, 3, 3)


def test_an_image_without_rois():
    feats = torch.randn(3, 4, 9, 9)
    rois = torch.tensor([[2., 1., 1., 30., 40.], [0., 5., 5., 20., 20.]])
    got = SeparableRoIAlign(2, 0.25, 2)(feats, rois)
    assert torch.allclose(got, RoIAlign(2, 0.25, 2)(feats, rois), atol=1e-5)


def test_batch_index_past_the_maps_is_an_error():
    with pytest.raises(IndexError, match='outside the 2 feature maps'):
        separable_roi_align(
            torch.randn(2, 1, 4, 4), torch.tensor([[2., 0., 0., 3., 3.]]),
            (2, 2), 1.0, 2)


def test_max_mode_goes_to_mmcv():
    feats = torch.randn(1, 2, 8, 8)
    rois = torch.tensor([[0., 0., 0., 6., 6.]])
    sep = SeparableRoIAlign(2, 1.0, 2, pool_mode='max')
    assert torch.equal(sep(feats, rois),
                       RoIAlign(2, 1.0, 2, pool_mode='max')(feats, rois))


def test_extractor_takes_registered_and_mmcv_layers():
    common = dict(out_channels=4, featmap_strides=[8])
    sep = MODELS.build(
        dict(
            type='RegisteredLayerRoIExtractor',
            roi_layer=dict(type='SeparableRoIAlign', output_size=7,
                           sampling_ratio=2),
            **common))
    mmcv_layer = MODELS.build(
        dict(
            type='RegisteredLayerRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
            **common))
    assert type(sep.roi_layers[0]) is SeparableRoIAlign
    assert type(mmcv_layer.roi_layers[0]) is RoIAlign
    assert sep.roi_layers[0].spatial_scale == 1 / 8
    assert sep.roi_layers[0].output_size == (7, 7)
    feats = (torch.randn(2, 4, 10, 12), )
    rois = _rois(2, 6, 10, 12, stride=8)
    assert torch.allclose(sep(feats, rois), mmcv_layer(feats, rois),
                          atol=1e-5)
