"""WSDDN image scores, OICR refinement losses and the weak detector."""
import math

import pytest
import torch
from mmdet.registry import MODELS

from mmdet_csod.models.bbox_heads.mil_bbox_head import softmax_per_image


def _head(num_refine=0, **kw):
    head = MODELS.build(
        dict(
            type='MILBBoxHead',
            in_channels=2,
            num_classes=2,
            num_refine=num_refine,
            **kw))
    with torch.no_grad():
        head.fc_cls.weight.copy_(torch.eye(2))
        head.fc_cls.bias.zero_()
        head.fc_det.weight.copy_(torch.tensor([[1., 0.], [0., 2.]]))
        head.fc_det.bias.zero_()
    return head


def test_wsddn_image_score_worked_example():
    # one image, two proposals with features f1 = (1, 0), f2 = (0, 1)
    feats = torch.tensor([[1., 0.], [0., 1.]])
    head = _head()
    outs = head(feats, [2])
    e = math.e
    # softmax over classes of x_c = f: p1 = (e, 1)/(e+1), p2 = (1, e)/(e+1)
    cls = torch.tensor([[e, 1.], [1., e]]) / (e + 1)
    # x_d = (f1_0, 2 f1_1) = (1, 0) and (0, 2); softmax over proposals per
    # class: class 0 -> (e, 1)/(e+1), class 1 -> (1, e^2)/(1+e^2)
    det = torch.tensor([[e / (e + 1), 1 / (1 + e**2)],
                        [1 / (e + 1), e**2 / (1 + e**2)]])
    torch.testing.assert_close(outs['mil_scores'], cls * det)
    phi = head.image_scores(outs['mil_scores'], [2]).detach()
    torch.testing.assert_close(phi, (cls * det).sum(0, keepdim=True))
    assert phi.shape == (1, 2) and (phi <= 1).all()
    labels = torch.tensor([[1., 0.]])
    loss = head.loss(outs, [torch.zeros(2, 4)], labels)['loss_mil']
    expect = -(math.log(phi[0, 0]) + math.log(1 - phi[0, 1])) / 2
    assert loss.item() == pytest.approx(expect, rel=1e-5)


def test_softmax_is_per_image():
    logits = torch.tensor([[0.], [1.], [5.]])
    out = softmax_per_image(logits, [2, 1])
    torch.testing.assert_close(out[:2, 0], torch.tensor([0., 1.]).softmax(0))
    assert out[2, 0].item() == pytest.approx(1.0)


def test_refinement_loss_uses_previous_branch_pseudo_labels():
    torch.manual_seed(0)
    head = MODELS.build(
        dict(type='MILBBoxHead', in_channels=8, num_classes=3, num_refine=2))
    feats = torch.randn(5, 8)
    props = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30],
                          [0, 0, 9, 10], [50, 50, 60, 60]],
                         dtype=torch.float)
    labels = torch.tensor([[0., 1., 0.]])
    outs = head(feats, [5])
    losses = head.loss(outs, [props], labels)
    assert set(losses) == {'loss_mil', 'loss_refine0', 'loss_refine1'}
    from mmdet_csod.models.utils import oicr_pseudo_labels
    previous = [outs['mil_scores'], outs['refine_probs'][0][:, :-1]]
    for k, prev in enumerate(previous):
        y, w = oicr_pseudo_labels(props, prev, labels[0])
        p = outs['refine_probs'][k][torch.arange(5), y]
        expect = -(w * p.log()).sum() / 5
        assert losses[f'loss_refine{k}'].item() == pytest.approx(
            expect.item(), rel=1e-5)
    # inference scores: mean of the refinement branches, background dropped
    torch.testing.assert_close(
        head.proposal_scores(outs),
        (outs['refine_probs'][0][:, :3] + outs['refine_probs'][1][:, :3]) / 2)
