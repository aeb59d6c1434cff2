"""SmallVGG computes in the channels-last layout (faster oneDNN convs on
CPUs); its outputs, gradients and checkpoints are those of the default
layout."""
import torch

from mmdet_csod.models.backbones.small_vgg import SmallVGG


def _pair():
    torch.manual_seed(0)
    fast = SmallVGG(channels_last=True, init_cfg=None)
    plain = SmallVGG(channels_last=False, init_cfg=None)
    plain.load_state_dict(fast.state_dict())
    return fast, plain


def test_channels_last_weights_and_default_layout_output():
    fast, plain = _pair()
    convs = [m for m in fast.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(
        c.weight.is_contiguous(memory_format=torch.channels_last)
        and not c.weight.is_contiguous() for c in convs)
    x = torch.randn(2, 3, 40, 56)
    (out, ) = fast(x)
    assert out.shape == (2, 128, 5, 7)
    assert out.is_contiguous()
    (ref, ) = plain(x)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_channels_last_gradients_match_the_default_layout():
    fast, plain = _pair()
    x = torch.randn(2, 3, 40, 56)
    for model in (fast, plain):
        model.train()
        (model(x)[0]**2).mean().backward()
    grads = {n: p.grad for n, p in plain.named_parameters()}
    for name, p in fast.named_parameters():
        torch.testing.assert_close(p.grad, grads[name], rtol=1e-3, atol=1e-5)


def test_loading_a_checkpoint_keeps_the_layout():
    fast, plain = _pair()
    fast.load_state_dict(plain.state_dict())
    conv = fast.stages[0][0].conv
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(conv.weight, plain.stages[0][0].conv.weight)
