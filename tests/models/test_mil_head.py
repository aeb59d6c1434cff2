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


# ------------------------------------------- gt boxes as refinement seeds
def _gt(boxes, labels):
    from mmengine.structures import InstanceData
    return InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float),
        labels=torch.tensor(labels, dtype=torch.long))


def _two_images():
    """A 3-class head with 2 branches, two images; image 0 has a class-1
    box on the proposal that class 1 scores lowest (so that the box, not
    the top-scoring proposal, seeds it), image 1 has no box."""
    torch.manual_seed(0)
    head = MODELS.build(
        dict(type='MILBBoxHead', in_channels=8, num_classes=3, num_refine=2))
    props = [
        torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30],
                      [21, 20, 30, 30], [50, 50, 60, 60]],
                     dtype=torch.float),
        torch.tensor(
            [[0, 0, 20, 20], [2, 0, 20, 20], [40, 0, 60, 20], [0, 40, 20, 60]],
            dtype=torch.float)
    ]
    labels = torch.tensor([[0., 1., 1.], [1., 0., 1.]])
    outs = head(torch.randn(9, 8), [5, 4])
    low = int(outs['mil_scores'][:5, 1].argmin())
    high = int(outs['mil_scores'][:5, 1].argmax())
    assert low != high
    gts = [
        _gt(props[0][low:low + 1].tolist(), [1]),
        _gt(torch.zeros(0, 4).tolist(), [])
    ]
    return head, outs, props, labels, gts


def test_refinement_seeds_on_gt_boxes():
    from mmdet_csod.models.utils import oicr_pseudo_labels
    head, outs, props, labels, gts = _two_images()
    plain = head.loss(outs, props, labels)
    seeded = head.loss(outs, props, labels, gt_instances=gts)
    assert set(seeded) == set(plain)
    assert torch.equal(seeded['loss_mil'], plain['loss_mil'])
    assert not torch.equal(seeded['loss_refine0'], plain['loss_refine0'])
    # each branch: the pseudo-labels of its previous scores, image i with
    # its own boxes
    previous = [outs['mil_scores'], outs['refine_probs'][0][:, :-1]]
    img_inds = torch.tensor([0] * 5 + [1] * 4)
    for k, prev in enumerate(previous):
        y, w = zip(*[
            oicr_pseudo_labels(
                p, s.detach(), lab, gt_bboxes=g.bboxes, gt_labels=g.labels)
            for p, s, lab, g in zip(props, prev.split([5, 4]), labels, gts)
        ])
        expect = head.refine_targets.loss_refine(
            outs['refine_probs'][k],
            torch.cat(y),
            torch.cat(w),
            img_inds=img_inds,
            num_imgs=2)
        torch.testing.assert_close(seeded[f'loss_refine{k}'], expect)
    # the targets themselves: the box's proposal is class 1 with weight 1
    t = head.refine_targets(props, outs['mil_scores'], labels, gts)
    y, w = t.labels, t.weights
    low = int((props[0] == gts[0].bboxes).all(1).nonzero())
    assert y[low].item() == 1 and w[low].item() == 1.0
    # image 1 (no box) is as without gt
    t0 = head.refine_targets(props, outs['mil_scores'], labels)
    y0, w0 = t0.labels, t0.weights
    assert torch.equal(y[5:], y0[5:]) and torch.equal(w[5:], w0[5:])
    assert not torch.equal(y[:5], y0[:5])


def test_empty_gt_instances_are_no_gt():
    head, outs, props, labels, gts = _two_images()
    plain = head.loss(outs, props, labels)
    empty = head.loss(outs, props, labels, gt_instances=[gts[1], gts[1]])
    assert set(empty) == set(plain)
    for k in plain:
        assert torch.equal(empty[k], plain[k]), k


def test_pcl_has_no_gt_seeds():
    torch.manual_seed(0)
    head = MODELS.build(
        dict(
            type='MILBBoxHead',
            in_channels=8,
            num_classes=3,
            num_refine=1,
            refine_targets=dict(type='PCLTargets')))
    _, _, props, labels, gts = _two_images()
    outs = head(torch.randn(9, 8), [5, 4])
    assert torch.isfinite(head.loss(outs, props, labels)['loss_refine0'])
    with pytest.raises(NotImplementedError, match='oicr'):
        head.loss(outs, props, labels, gt_instances=gts)
    with pytest.raises(NotImplementedError, match='oicr'):
        head.refine_targets(props, outs['mil_scores'], labels, gts)


# ------------------------------------- options of the peers' refinements
TARGETS = dict(oicr=dict(type='OICRTargets'), pcl=dict(type='PCLTargets'))


def _weighted_pair(scheme='oicr', **kw):
    """The same head (same init and features) without and with ``kw``."""
    heads = []
    for extra in (dict(), kw):
        torch.manual_seed(0)
        cfg = dict(
            type='MILBBoxHead',
            in_channels=8,
            num_classes=3,
            num_refine=2,
            refine_targets=TARGETS[scheme])
        cfg.update(extra)
        heads.append(MODELS.build(cfg))
    return heads


@pytest.mark.parametrize('refine_targets', ['oicr', 'pcl'])
def test_refine_loss_weights_scale_each_branch(refine_targets):
    """wetectron weighs the first refinement branch 3, the others 1."""
    plain, weighted = _weighted_pair(
        refine_targets, refine_loss_weights=[3, 1])
    _, _, props, labels, _ = _two_images()
    feats = torch.randn(9, 8)
    base = plain.loss(plain(feats, [5, 4]), props, labels)
    losses = weighted.loss(weighted(feats, [5, 4]), props, labels)
    assert set(losses) == set(base)
    assert torch.equal(losses['loss_mil'], base['loss_mil'])
    torch.testing.assert_close(losses['loss_refine0'],
                               3 * base['loss_refine0'])
    torch.testing.assert_close(losses['loss_refine1'], base['loss_refine1'])
    assert weighted.refine_loss_weights == (3.0, 1.0)
    # None (the default) and all ones are the unweighted losses
    assert plain.refine_loss_weights is None
    _, ones = _weighted_pair(refine_targets, refine_loss_weights=(1., 1.))
    same = ones.loss(ones(feats, [5, 4]), props, labels)
    for k in base:
        assert torch.equal(same[k], base[k]), k


def test_refine_loss_weights_gradient_is_scaled():
    plain, weighted = _weighted_pair(refine_loss_weights=[0.5, 2.])
    _, _, props, labels, _ = _two_images()
    feats = torch.randn(9, 8)
    for head in (plain, weighted):
        losses = head.loss(head(feats, [5, 4]), props, labels)
        (losses['loss_refine0'] + losses['loss_refine1']).backward()
    for k, w in enumerate((0.5, 2.)):
        torch.testing.assert_close(weighted.fc_refine[k].weight.grad,
                                   w * plain.fc_refine[k].weight.grad)


@pytest.mark.parametrize('weights', [[3.], [3., 1., 1.], []])
def test_refine_loss_weights_length_is_checked(weights):
    with pytest.raises(ValueError, match='refine_loss_weights'):
        MODELS.build(
            dict(
                type='MILBBoxHead',
                in_channels=8,
                num_classes=3,
                num_refine=2,
                refine_loss_weights=weights))
    # no branch, no weight
    head = MODELS.build(
        dict(
            type='MILBBoxHead',
            in_channels=8,
            num_classes=3,
            num_refine=0,
            refine_loss_weights=[]))
    assert head.refine_loss_weights == ()


def test_refine_targets_pass_ignore_iou_thr():
    """pcl.pytorch's OICR BG_THRESH reaches oicr_pseudo_labels through
    OICRTargets; without it the targets are unchanged."""
    from mmdet_csod.models.utils import oicr_pseudo_labels
    cfg = dict(iou_thr=0.5, weight_mode='seed_score')
    plain, ignoring = _weighted_pair(
        refine_targets=dict(type='OICRTargets', **cfg, ignore_iou_thr=0.1))
    _, _, props, labels, _ = _two_images()
    feats = torch.randn(9, 8)
    scores = plain(feats, [5, 4])['mil_scores']
    t0 = plain.refine_targets(props, scores, labels)
    t = ignoring.refine_targets(props, scores, labels)
    y0, w0, y, w = t0.labels, t0.weights, t.labels, t.weights
    expect = [
        oicr_pseudo_labels(p, s.detach(), lab, **cfg, ignore_iou_thr=0.1)
        for p, s, lab in zip(props, scores.split([5, 4]), labels)
    ]
    assert torch.equal(y, torch.cat([e[0] for e in expect]))
    assert torch.equal(w, torch.cat([e[1] for e in expect]))
    assert torch.equal(y, y0)
    ignored = w == 0
    assert torch.equal(w[~ignored], w0[~ignored])
    assert (w0[ignored] > 0).any()  # something is ignored only with it
    plain_expect = [
        oicr_pseudo_labels(p, s.detach(), lab, **cfg)
        for p, s, lab in zip(props, scores.split([5, 4]), labels)
    ]
    assert torch.equal(w0, torch.cat([e[1] for e in plain_expect]))
