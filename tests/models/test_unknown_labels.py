"""Unknown classes (image_label_weights 0): left out of the MIL loss and of
the refinement losses instead of counted as absent."""
import pytest
import torch
from _refine_batch import PCL_CFG, random_batch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample

from mmdet_csod.models.losses import (MILLoss, PCLLoss, WeightedRefineLoss,
                                      known_class_probs)
from mmdet_csod.models.utils.pcl_clusters import pcl_targets
from mmdet_csod.structures import image_label_weights_of


def _batch(seed=0, nums=(30, 20)):
    return random_batch(seed, nums)


def _img_inds(nums):
    return torch.repeat_interleave(torch.arange(len(nums)), torch.tensor(nums))


@pytest.mark.parametrize('reduction', ['mean', 'sum_classes'])
def test_masked_mil_loss_is_the_loss_over_the_other_classes(reduction):
    g = torch.Generator().manual_seed(0)
    phi = torch.rand(3, 5, generator=g)
    labels = (torch.rand(3, 5, generator=g) > 0.5).float()
    loss = MILLoss(reduction=reduction)
    keep = [0, 1, 3, 4]
    weights = torch.ones(3, 5)
    weights[:, 2] = 0
    masked = loss(phi, labels, weights)
    torch.testing.assert_close(masked, loss(phi[:, keep], labels[:, keep]))
    assert not torch.allclose(masked, loss(phi, labels))
    # a mask that differs per image: the known (image, class) terms only
    weights[1, 0] = 0
    terms = -(labels * phi.log() + (1 - labels) * (1 - phi).log())
    known = weights > 0
    expect = terms[known].sum() / (3 if reduction == 'sum_classes' else
                                   known.sum())
    torch.testing.assert_close(loss(phi, labels, weights), expect)
    # all ones: the unweighted loss
    torch.testing.assert_close(
        loss(phi, labels, torch.ones(3, 5)), loss(phi, labels))
    with pytest.raises(ValueError, match='weights'):
        loss(phi, labels, torch.ones(3, 4))


def test_unknown_class_gets_no_gradient_from_the_mil_loss():
    logits = torch.randn(2, 4, requires_grad=True)
    labels = torch.tensor([[1., 0, 0, 1], [0., 1, 0, 0]])
    weights = torch.tensor([[1., 1, 0, 1], [1., 0, 1, 1]])
    MILLoss()(logits.sigmoid(), labels, weights).backward()
    assert (logits.grad[weights == 0] == 0).all()
    assert (logits.grad[weights > 0] != 0).all()


def _head(num_classes, refine_targets, num_refine=2):
    torch.manual_seed(0)
    head = MODELS.build(
        dict(
            type='MILBBoxHead',
            in_channels=16,
            num_classes=num_classes,
            num_refine=num_refine,
            refine_targets=refine_targets))
    head.init_weights()
    return head


def _without_class(head, refine_targets, c):
    """A head over the other classes with the same weights."""
    small = _head(head.num_classes - 1, refine_targets, head.num_refine)
    keep = [k for k in range(head.num_classes) if k != c]
    with torch.no_grad():
        for name in ('fc_cls', 'fc_det'):
            getattr(small, name).weight.copy_(getattr(head, name).weight[keep])
            getattr(small, name).bias.copy_(getattr(head, name).bias[keep])
        for big, fc in zip(head.fc_refine, small.fc_refine):
            fc.weight.copy_(big.weight[keep + [head.num_classes]])
            fc.bias.copy_(big.bias[keep + [head.num_classes]])
    return small, keep


@pytest.mark.parametrize('refine_targets', [
    dict(type='OICRTargets', ignore_iou_thr=0.1),
    dict(type='OICRTargets', weight_mode='iou'),
    dict(type='PCLTargets', **PCL_CFG)
])
def test_masked_head_equals_the_head_without_the_class(refine_targets):
    """Every loss with class 1 unknown in every image equals the loss of
    the same head with class 1's columns removed."""
    proposals, feats = _batch()
    nums = [len(p) for p in proposals]
    labels = torch.tensor([[1., 0, 0, 1], [0., 0, 1, 0]])
    weights = torch.ones(2, 4)
    weights[:, 1] = 0
    head = _head(4, refine_targets)
    small, keep = _without_class(head, refine_targets, 1)
    masked = head.loss(
        head(feats, nums), proposals, labels, image_label_weights=weights)
    expect = small.loss(small(feats, nums), proposals, labels[:, keep])
    plain = head.loss(head(feats, nums), proposals, labels)
    assert masked.keys() == expect.keys() == plain.keys()
    for k in expect:
        torch.testing.assert_close(masked[k], expect[k])
        assert not torch.allclose(masked[k], plain[k]), k


def test_unknown_class_columns_get_no_gradient_in_the_head():
    proposals, feats = _batch()
    nums = [len(p) for p in proposals]
    labels = torch.tensor([[1., 0, 0], [0., 0, 1]])
    weights = torch.tensor([[1., 0, 1], [1., 0, 1]])
    head = _head(3, dict(type='OICRTargets'), num_refine=1)
    outs = head(feats, nums)
    for key in ('cls_logits', 'det_probs'):
        outs[key].retain_grad()
    losses = head.loss(outs, proposals, labels, image_label_weights=weights)
    losses['loss_mil'].backward(retain_graph=True)
    # the WSDDN streams: exactly no gradient in the unknown column
    assert (outs['cls_logits'].grad[:, 1] == 0).all()
    assert (outs['det_probs'].grad[:, 1] == 0).all()
    assert (head.fc_cls.weight.grad[1] == 0).all()
    assert (head.fc_det.weight.grad[1] == 0).all()
    assert head.fc_cls.weight.grad[0].abs().sum() > 0
    # the refinement branch: the column's logit gets none (up to rounding)
    head.zero_grad()
    losses['loss_refine0'].backward()
    grad = head.fc_refine[0].weight.grad
    assert grad[1].abs().max() < 1e-7 * grad.abs().max()
    # without a mask the unknown class is a negative: it has a gradient
    head.zero_grad()
    plain = head.loss(head(feats, nums), proposals, labels)
    (plain['loss_mil'] + plain['loss_refine0']).backward()
    assert head.fc_cls.weight.grad[1].abs().sum() > 0
    assert head.fc_refine[0].weight.grad[1].abs().sum() > 0


def test_refinement_losses_per_image_mask_remove_the_column():
    """A class unknown in image 0 only: its loss term is that of image 0
    with the column removed, image 1's is unchanged."""
    proposals, feats = _batch(seed=1)
    nums = [len(p) for p in proposals]
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(sum(nums), 4, generator=g)  # C = 3 + background
    probs = logits.softmax(1)
    labels = torch.tensor([[1., 0, 1], [0., 1, 0]])
    weights = torch.tensor([[1., 0, 1], [1., 1, 1]])
    img_inds = _img_inds(nums)
    keep0 = [0, 2, 3]
    p0 = logits[:nums[0]][:, keep0].softmax(1)  # column 1 removed
    scores = probs[:, :3].split(nums)
    # OICR weighted loss (targets never take the unknown class)
    y = torch.randint(0, 4, (sum(nums), ), generator=g)
    y[:nums[0]][y[:nums[0]] == 1] = 3
    w = torch.rand(sum(nums), generator=g)
    loss = WeightedRefineLoss()
    masked = loss(probs, y, w, img_inds, 2, image_label_weights=weights)
    remap = torch.tensor([0, -1, 1, 2])
    one = torch.zeros(nums[0], dtype=torch.long)
    expect = (loss(p0, remap[y[:nums[0]]], w[:nums[0]], one, 1) +
              loss(probs[nums[0]:], y[nums[0]:], w[nums[0]:],
                   one.new_zeros(nums[1]), 1)) / 2
    torch.testing.assert_close(masked, expect)
    # PCL: clusters of the known present classes, column removed
    kw = dict(PCL_CFG)
    t = pcl_targets(proposals, scores, labels, **kw)
    masked = PCLLoss()(
        probs, *t, img_inds=img_inds, num_imgs=2, image_label_weights=weights)
    t0 = pcl_targets(proposals[:1], [scores[0][:, [0, 2]]], labels[:1, [0, 2]],
                     **kw)
    t1 = pcl_targets(proposals[1:], [scores[1]], labels[1:], **kw)
    expect = (PCLLoss()(p0, *t0, img_inds=one, num_imgs=1) + PCLLoss()(
        probs[nums[0]:], *t1, img_inds=one.new_zeros(nums[1]), num_imgs=1)) / 2
    torch.testing.assert_close(masked, expect)


def test_known_class_probs():
    probs = torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]])
    img_inds = torch.tensor([0, 1])
    assert known_class_probs(probs, None, img_inds) is probs
    out = known_class_probs(probs, torch.tensor([[1., 0], [1., 1]]), img_inds)
    torch.testing.assert_close(out[0], torch.tensor([0.2, 0, 0.5]) / 0.7)
    torch.testing.assert_close(out[1], probs[1])


def test_targets_carry_the_weights_and_seed_no_unknown_class():
    proposals, feats = _batch()
    head = _head(3, dict(type='OICRTargets'))
    outs = head(feats, [len(p) for p in proposals])
    labels = torch.tensor([[1., 1, 0], [0., 1, 0]])
    weights = torch.tensor([[1., 0, 1], [1., 1, 1]])
    t = head.refine_targets(
        proposals, outs['mil_scores'], labels, image_label_weights=weights)
    assert t.image_label_weights is weights
    n0 = len(proposals[0])
    # a label of weight 0 counts as not present: no seed, no target
    assert not (t.labels[:n0] == 1).any()
    assert (t.labels[n0:] == 1).any()
    with pytest.raises(ValueError, match='image_label_weights'):
        head.refine_targets(
            proposals,
            outs['mil_scores'],
            labels,
            image_label_weights=weights[:, :2])


def test_image_label_weights_of_a_batch():
    samples = [
        DetDataSample(metainfo=dict(img_path=f'{i}.jpg')) for i in range(2)
    ]
    for s in samples:
        s.image_labels = torch.tensor([1., 0, 0])
    assert image_label_weights_of(samples) is None
    samples[1].image_label_weights = torch.tensor([1., 0, 1])
    torch.testing.assert_close(
        image_label_weights_of(samples), torch.tensor([[1., 1, 1], [1., 0,
                                                                    1]]))
    samples[1].image_label_weights = torch.tensor([1., 0])
    with pytest.raises(ValueError, match='1.jpg'):
        image_label_weights_of(samples)
