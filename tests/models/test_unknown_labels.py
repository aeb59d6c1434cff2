"""Unknown classes (image_label_weights 0): left out of the MIL loss and
merged into background by the refinement losses instead of counted as
absent."""
import pytest
import torch
import torch.nn.functional as F
from _refine_batch import PCL_CFG, mil_head, random_batch
from mmdet.structures import DetDataSample

from mmdet_csod.models.losses import (MILLoss, PCLLoss, WeightedRefineLoss,
                                      merge_unknown_logits,
                                      merge_unknown_probs, unknown_rows)
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


def _merged_nll(probs, y, unknown):
    """Per proposal -log p[y], background targets -log(p_bg + sum_u p_u)
    (``unknown`` [N, C] bool), written out by hand."""
    bg = probs.size(1) - 1
    p = probs.gather(1, y[:, None]).squeeze(1)
    extra = (probs[:, :bg] * unknown.to(probs.dtype)).sum(1)
    return -torch.where(y == bg, p + extra, p).log()


@pytest.mark.parametrize('refine_targets', [
    dict(type='OICRTargets', ignore_iou_thr=0.1),
    dict(type='OICRTargets', weight_mode='iou'),
    dict(type='PCLTargets', **PCL_CFG)
])
def test_masked_head_scores_every_class_and_drops_the_unknown_terms(
        refine_targets):
    """Class 1 unknown in every image: the MIL loss is the weighted loss of
    the ordinary image scores (the class softmax still over all classes),
    the refinement losses those of the scores with class 1 merged into
    background; all differ from the plain head's (class 1 a negative)."""
    proposals, feats = _batch()
    nums = [len(p) for p in proposals]
    labels = torch.tensor([[1., 0, 0, 1], [0., 0, 1, 0]])
    weights = torch.ones(2, 4)
    weights[:, 1] = 0
    head = mil_head(refine_targets, num_classes=4)
    outs = head(feats, nums)
    masked = head.loss(outs, proposals, labels, image_label_weights=weights)
    plain = head.loss(outs, proposals, labels)
    phi = head.image_scores(outs['mil_scores'], nums)
    torch.testing.assert_close(masked['loss_mil'],
                               head.loss_mil(phi, labels, weights))
    img_inds = _img_inds(nums)
    prev = outs['mil_scores']
    for k, probs in enumerate(outs['refine_probs']):
        t = head.refine_targets(proposals, prev, labels,
                                image_label_weights=weights)
        merged = merge_unknown_probs(probs, weights, img_inds)
        t_plain = head.refine_targets(proposals, prev * weights[img_inds],
                                      labels)
        torch.testing.assert_close(masked[f'loss_refine{k}'],
                                   head.refine_targets.loss(merged, t_plain))
        assert t.labels.tolist() == t_plain.labels.tolist()
        prev = merged[:, :-1]
    for k in plain:
        assert not torch.allclose(masked[k], plain[k]), k


def test_unknown_class_in_the_head_gradients():
    """The unknown class's detection stream gets no gradient; its class
    logit only the competition with the known present classes; in the
    refinement a proposal of a known class pushes it down, a background
    one does not prefer background over it."""
    proposals, feats = _batch()
    nums = [len(p) for p in proposals]
    labels = torch.tensor([[1., 0, 0], [0., 0, 1]])
    weights = torch.tensor([[1., 0, 1], [1., 0, 1]])
    head = mil_head(dict(type='OICRTargets'), num_refine=1)
    outs = head(feats, nums)
    for key in ('cls_logits', 'det_probs'):
        outs[key].retain_grad()
    losses = head.loss(outs, proposals, labels, image_label_weights=weights)
    losses['loss_mil'].backward(retain_graph=True)
    assert (outs['det_probs'].grad[:, 1] == 0).all()
    assert (head.fc_det.weight.grad[1] == 0).all()
    assert head.fc_det.weight.grad[0].abs().sum() > 0
    # through softmax_c only: the same gradient as with the class's MIL
    # term removed from a head that keeps the column
    assert outs['cls_logits'].grad[:, 1].abs().sum() > 0
    # the refinement: a fresh forward to read the logits' gradient
    logits = head.fc_refine[0](feats).detach().requires_grad_()
    probs = logits.softmax(1)
    t = head.refine_targets(proposals, outs['mil_scores'].detach(), labels,
                            image_label_weights=weights)
    head.refine_targets.loss(probs, t).backward()
    fg = (t.labels < 3) & (t.weights > 0)
    bg = (t.labels == 3) & (t.weights > 0)
    assert fg.any() and bg.any()
    # a known class's proposal: its unknown column pushed down
    assert (logits.grad[fg, 1] > 0).all()
    # a background one: the unknown column pulled up with the background,
    # in proportion (no preference between them), the known classes down
    p = probs.detach()
    torch.testing.assert_close(logits.grad[bg, 1] / logits.grad[bg, 3],
                               p[bg, 1] / p[bg, 3])
    assert (logits.grad[bg, 1] < 0).all()
    assert (logits.grad[bg][:, [0, 2]] > 0).all()


def test_refinement_losses_merge_the_unknown_classes_per_image():
    """A class unknown in image 0 only: image 0's background targets are
    {background, class 1}, its other targets and all of image 1 plain."""
    proposals, feats = _batch(seed=1)
    nums = [len(p) for p in proposals]
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(sum(nums), 4, generator=g)  # C = 3 + background
    probs = logits.softmax(1)
    labels = torch.tensor([[1., 0, 1], [0., 1, 0]])
    weights = torch.tensor([[1., 0, 1], [1., 1, 1]])
    img_inds = _img_inds(nums)
    unknown = (weights == 0)[img_inds]
    # OICR weighted loss (targets never take the unknown class)
    y = torch.randint(0, 4, (sum(nums), ), generator=g)
    y[:nums[0]][y[:nums[0]] == 1] = 3
    w = torch.rand(sum(nums), generator=g)
    masked = WeightedRefineLoss()(
        probs, y, w, img_inds, 2, image_label_weights=weights)
    per_prop = w * _merged_nll(probs, y, unknown)
    expect = torch.stack([c.mean() for c in per_prop.split(nums)]).mean()
    torch.testing.assert_close(masked, expect)
    assert not torch.allclose(masked,
                              WeightedRefineLoss()(probs, y, w, img_inds, 2))
    # PCL: the background term takes p_bg + p_1 in image 0, the clusters
    # (of the known present classes) their plain probabilities
    scores = probs[:, :3].split(nums)
    t = pcl_targets(proposals, scores, labels * weights, **PCL_CFG)
    masked = PCLLoss()(
        probs, *t, img_inds=img_inds, num_imgs=2, image_label_weights=weights)
    merged = probs.clone()
    merged[:nums[0], 3] += merged[:nums[0], 1]
    merged[:nums[0], 1] = 0
    torch.testing.assert_close(
        masked, PCLLoss()(merged, *t, img_inds=img_inds, num_imgs=2))
    assert not torch.allclose(
        masked, PCLLoss()(probs, *t, img_inds=img_inds, num_imgs=2))


def test_merge_unknown_probs_and_logits():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 4, generator=g, dtype=torch.float64)
    probs = logits.softmax(1)
    img_inds = torch.tensor([0, 1, 1])
    weights = torch.tensor([[1., 0, 0], [1., 1, 1]])
    assert merge_unknown_probs(probs, None, img_inds) is probs
    assert merge_unknown_probs(probs, torch.ones(2, 3), img_inds) is probs
    assert merge_unknown_logits(logits, torch.ones(2, 3), img_inds) is logits
    out = merge_unknown_probs(probs, weights, img_inds)
    torch.testing.assert_close(
        out[0],
        torch.stack([probs[0, 0], probs.new_tensor(0), probs.new_tensor(0),
                     probs[0, 1:].sum()]))
    torch.testing.assert_close(out[1:], probs[1:])
    merged = merge_unknown_logits(logits, weights, img_inds)
    assert torch.isinf(merged[0, 1:3]).all()
    torch.testing.assert_close(merged.softmax(1), out)
    # the cross-entropy over the merged logits: finite, with a gradient
    # that is 0 exactly in the merged-away columns' own entries
    x = logits.clone().requires_grad_()
    F.cross_entropy(merge_unknown_logits(x, weights, img_inds),
                    torch.tensor([3, 3, 0])).backward()
    assert torch.isfinite(x.grad).all()
    assert (x.grad[0, 1:] < 0).all()  # bg and the unknown ones together
    assert unknown_rows(weights, img_inds).tolist() == [
        [False, True, True], [False, False, False], [False, False, False]]


def test_targets_carry_the_weights_and_seed_no_unknown_class():
    proposals, feats = _batch()
    head = mil_head(dict(type='OICRTargets'))
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
