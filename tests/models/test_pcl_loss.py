"""PCL's cluster loss: a worked case, its gradients, and the MIL head
trained with PCL's refinement targets."""
import math

import pytest
import torch
from mmdet.registry import MODELS

from mmdet_csod.models.losses import PCLLoss
from mmdet_csod.models.utils.pcl_clusters import pcl_targets

# --- the loss ---

# Worked loss: image 0 has r0, r1 (cluster 0: class 0, s .8, size 2) and
# r2 (background, w .5); image 1 has r3 (cluster 1: class 1, s .6, size 1)
# and r4 (ignored, w 0).
#   L0 = -1/3 * (.8 * 2 * log((.5 + .3) / 2) + .5 * log .7)
#   L1 = -1/2 * (.6 * 1 * log(.4 / 1))
#   loss = (L0 + L1) / 2
# d loss / d p[r0, 0] = d loss / d p[r1, 0] = -1/2 * 1/3 * .8 * 2 * (1/2)
#   / .4 = -1/3 (the members of a cluster share one gradient);
# d / d p[r2, 2] = -1/2 * 1/3 * .5 / .7; d / d p[r3, 1] = -1/2 * 1/2 * .6
#   / .4 = -.375; nothing reaches r4.
LOSS_PROBS = [[.5, .3, .2], [.3, .3, .4], [.1, .2, .7], [.2, .4, .4],
              [.3, .3, .4]]
LOSS_TARGETS = dict(
    labels=torch.tensor([0, 0, 2, 1, 2]),
    weights=torch.tensor([.8, .8, .5, .6, 0.]),
    cluster_ids=torch.tensor([0, 0, -1, 1, -1]),
    cluster_labels=torch.tensor([0, 1]),
    cluster_scores=torch.tensor([.8, .6]),
    cluster_sizes=torch.tensor([2, 1]),
    img_inds=torch.tensor([0, 0, 0, 1, 1]),
    num_imgs=2)


def test_loss_worked_case():
    probs = torch.tensor(LOSS_PROBS, dtype=torch.double, requires_grad=True)
    loss = PCLLoss()(probs, **LOSS_TARGETS)
    l0 = -(.8 * 2 * math.log(.4) + .5 * math.log(.7)) / 3
    l1 = -(.6 * math.log(.4)) / 2
    assert loss.item() == pytest.approx((l0 + l1) / 2)
    loss.backward()
    grad = torch.zeros(5, 3, dtype=torch.double)
    grad[0, 0] = grad[1, 0] = -1 / 3
    grad[2, 2] = -.5 / .7 / 6
    grad[3, 1] = -.375
    assert torch.allclose(probs.grad, grad)
    loss2 = PCLLoss(loss_weight=2.)(probs, **LOSS_TARGETS)
    assert loss2.item() == pytest.approx(2 * loss.item())


def test_loss_grad_finite_and_nonzero():
    torch.manual_seed(0)
    props = [torch.rand(30, 2) * 50 for _ in range(2)]
    props = [torch.cat([p, p + torch.rand(30, 2) * 30 + 2], 1) for p in props]
    scores = [torch.rand(30, 4) for _ in range(2)]
    targets = pcl_targets(props, scores,
                          torch.tensor([[1., 0, 1, 0], [0., 1, 0, 0]]))
    logits = torch.randn(60, 5, requires_grad=True)
    probs = logits.softmax(1)
    img_inds = torch.arange(2).repeat_interleave(30)
    loss = PCLLoss()(probs, *targets, img_inds=img_inds, num_imgs=2)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0
    assert torch.isfinite(logits.grad).all()
    assert logits.grad.abs().sum() > 0
    # saturated probabilities stay finite through the eps clamp
    zero = torch.zeros(60, 5, requires_grad=True)
    loss = PCLLoss()(zero, *targets, img_inds=img_inds, num_imgs=2)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(zero.grad).all()


def test_mil_bbox_head_pcl():
    torch.manual_seed(0)
    head = MODELS.build(
        dict(
            type='MILBBoxHead',
            in_channels=16,
            num_classes=3,
            num_refine=2,
            refine_targets=dict(type='PCLTargets', min_remaining=2)))
    head.init_weights()
    nums = [40, 25]
    proposals = []
    for n in nums:
        xy = torch.rand(n, 2) * 60
        proposals.append(torch.cat([xy, xy + torch.rand(n, 2) * 40 + 4], 1))
    feats = torch.randn(sum(nums), 16)
    outs = head(feats, nums)
    losses = head.loss(outs, proposals, torch.tensor([[1., 0, 1], [0., 1, 0]]))
    assert set(losses) == {'loss_mil', 'loss_refine0', 'loss_refine1'}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    for fc in head.fc_refine:
        assert torch.isfinite(fc.weight.grad).all()
        assert fc.weight.grad.abs().sum() > 0
