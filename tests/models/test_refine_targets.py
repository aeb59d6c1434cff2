"""Refinement target generators (OICRTargets, PCLTargets) and their losses."""
import os.path as osp

import pytest
import torch
from _refine_batch import PCL_CFG, mil_head, random_batch
from conftest import REPO_ROOT
from mmdet.registry import MODELS, TASK_UTILS
from mmengine.config import Config

from mmdet_csod.models.losses import PCLLoss, WeightedRefineLoss
from mmdet_csod.models.task_modules import (ClusterTargets, OICRTargets,
                                            PCLTargets, ProposalTargets)
from mmdet_csod.models.utils import oicr_pseudo_labels
from mmdet_csod.models.utils.pcl_clusters import pcl_targets


def _batch(seed=0, nums=(30, 20)):
    proposals, feats = random_batch(seed, nums)
    labels = torch.tensor([[1., 0, 1], [0., 1, 0]])
    return proposals, feats, labels


def _img_inds(proposals):
    return torch.cat([
        torch.full((len(p), ), i, dtype=torch.long)
        for i, p in enumerate(proposals)
    ])


def test_pcl_head_from_one_field_matches_the_functions():
    """The OICR head with only refine_targets changed is PCL: its losses
    and gradients are pcl_targets + PCLLoss on each previous branch."""
    proposals, feats, labels = _batch()
    oicr = mil_head(dict(type='OICRTargets'))
    head = mil_head(dict(type='PCLTargets', **PCL_CFG))
    assert isinstance(head.refine_targets, PCLTargets)
    assert isinstance(head.refine_targets.loss_refine, PCLLoss)
    # the same parameters: only the targets and the loss differ
    for (k, a), b in zip(oicr.state_dict().items(),
                         head.state_dict().values()):
        assert torch.equal(a, b), k
    outs = head(feats, [len(p) for p in proposals])
    losses = head.loss(outs, proposals, labels)
    prev = [outs['mil_scores'], outs['refine_probs'][0][:, :-1]]
    img_inds = _img_inds(proposals)
    expected = {}
    for k, scores in enumerate(prev):
        chunks = scores.detach().split([len(p) for p in proposals])
        targets = pcl_targets(proposals, chunks, labels, **PCL_CFG)
        expected[k] = PCLLoss()(
            outs['refine_probs'][k], *targets, img_inds=img_inds, num_imgs=2)
        torch.testing.assert_close(
            losses[f'loss_refine{k}'], expected[k], rtol=0, atol=0)
    assert not torch.equal(
        oicr.loss(outs, proposals, labels)['loss_refine1'],
        losses['loss_refine1'])
    # gradients: the head's against the direct computation's
    grads = torch.autograd.grad(
        losses['loss_refine0'] + losses['loss_refine1'],
        outs['refine_probs'],
        retain_graph=True)
    direct = torch.autograd.grad(expected[0] + expected[1],
                                 outs['refine_probs'])
    for a, b in zip(grads, direct):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('options', [
    dict(),
    dict(iou_thr=0.4, weight_mode='iou'),
    dict(iou_thr=0.5, weight_mode='seed_score', ignore_iou_thr=0.1)
])
def test_oicr_head_matches_the_functions(options):
    proposals, feats, labels = _batch(1)
    head = mil_head(dict(type='OICRTargets', **options), num_refine=1)
    outs = head(feats, [len(p) for p in proposals])
    loss = head.loss(outs, proposals, labels)['loss_refine0']
    per_img = [
        oicr_pseudo_labels(p, s.detach(), y, **options) for p, s, y in zip(
            proposals, outs['mil_scores'].split([30, 20]), labels)
    ]
    expect = WeightedRefineLoss()(
        outs['refine_probs'][0],
        torch.cat([t[0] for t in per_img]),
        torch.cat([t[1] for t in per_img]),
        img_inds=_img_inds(proposals),
        num_imgs=2)
    torch.testing.assert_close(loss, expect, rtol=0, atol=0)
    targets = head.refine_targets(proposals, outs['mil_scores'], labels)
    assert isinstance(targets, ProposalTargets)
    assert targets.labels.shape == targets.weights.shape == (50, )
    assert targets.img_inds.tolist() == [0] * 30 + [1] * 20
    assert targets.num_imgs == 2


def test_typed_results_and_the_loss_they_go_with():
    proposals, feats, labels = _batch(2)
    scores = torch.rand(50, 3)
    oicr, pcl = OICRTargets(), PCLTargets(**PCL_CFG)
    a = oicr(proposals, scores, labels)
    b = pcl(proposals, scores, labels)
    assert isinstance(b, ClusterTargets)
    m = len(b.cluster_labels)
    assert m > 0 and b.cluster_scores.shape == b.cluster_sizes.shape == (m, )
    assert b.cluster_ids.shape == (50, ) and b.cluster_ids.max() < m
    probs = torch.rand(50, 4).softmax(1)
    assert torch.isfinite(oicr.loss(probs, a)) and torch.isfinite(
        pcl.loss(probs, b))
    with pytest.raises(
            TypeError,
            match='OICRTargets.loss takes '
            'ProposalTargets, got ClusterTargets'):
        oicr.loss(probs, b)
    with pytest.raises(TypeError, match='ClusterTargets'):
        pcl.loss(probs, a)
    # the loss weight of the loss it builds
    twice = OICRTargets(
        loss_refine=dict(type='WeightedRefineLoss', loss_weight=2.))
    torch.testing.assert_close(twice.loss(probs, a), 2 * oicr.loss(probs, a))


def test_a_loss_that_does_not_take_the_targets_is_refused():
    with pytest.raises(
            TypeError,
            match='OICRTargets gives ProposalTargets'
            r'.*PCLLoss does not take'):
        OICRTargets(loss_refine=dict(type='PCLLoss'))
    with pytest.raises(
            TypeError,
            match='PCLTargets gives ClusterTargets'
            r'.*WeightedRefineLoss does not take'):
        PCLTargets(loss_refine=dict(type='WeightedRefineLoss'))


def test_unknown_or_string_refine_targets_are_clear_errors():
    with pytest.raises(
            KeyError,
            match='NoSuchTargets is not in the '
            'mmdet::task util registry'):
        mil_head(dict(type='NoSuchTargets'))
    with pytest.raises(TypeError, match=r"dict\(type='PCLTargets'\).*'pcl'"):
        mil_head('pcl')
    with pytest.raises(TypeError, match='not a BaseRefineTargets'):
        mil_head(dict(type='MaxIoUAssigner', pos_iou_thr=.5, neg_iou_thr=.5))
    with pytest.raises(TypeError, match='pcl_cfg'):
        MODELS.build(dict(type='MILBBoxHead', num_classes=3, pcl_cfg=dict()))
    with pytest.raises(ValueError, match='weight_mode'):
        TASK_UTILS.build(dict(type='OICRTargets', weight_mode='max'))
    with pytest.raises(ValueError, match='ignore_iou_thr'):
        OICRTargets(iou_thr=0.5, ignore_iou_thr=0.6)
    with pytest.raises(ValueError, match='max_centers'):
        PCLTargets(max_centers=0)
    with pytest.raises(ValueError, match='scores have 49 rows for 50'):
        proposals, _, labels = _batch()
        OICRTargets()(proposals, torch.rand(49, 3), labels)


def test_state_dict_is_the_head_parameters_only():
    """Published checkpoints keep loading: the generator and its loss have
    no parameters or buffers."""
    for targets in (dict(type='OICRTargets'), dict(type='PCLTargets')):
        keys = set(mil_head(targets).state_dict())
        assert keys == {
            f'{fc}.{p}'
            for fc in ('fc_cls', 'fc_det', 'fc_refine.0', 'fc_refine.1')
            for p in ('weight', 'bias')
        }


def _flat(d, prefix=''):
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_flat(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


@pytest.mark.parametrize('pcl, oicr, head', [
    ('wsod/pcl_small-vgg_synthetic.py', 'wsod/oicr_small-vgg_synthetic.py',
     'roi_head'),
    ('wsod/pcl_vgg16_voc07.py', 'wsod/oicr_vgg16_voc07.py', 'roi_head'),
    ('csod/ablations/drn_tiny_synthetic_rec-pcl.py',
     'csod/drn_tiny_synthetic.py', 'rec_head'),
])
def test_pcl_configs_change_one_field(pcl, oicr, head):
    """A PCL config is its OICR config with refine_targets replaced."""
    models = [
        Config.fromfile(osp.join(REPO_ROOT, 'configs', p)).model.to_dict()
        for p in (pcl, oicr)
    ]
    a, b = (_flat(m) for m in models)
    field = f'{head}.bbox_head.refine_targets'
    differ = {
        k
        for k in set(a) | set(b) if a.get(k, KeyError) != b.get(k, KeyError)
    }
    assert differ and all(k.startswith(field + '.') for k in differ)
    targets = TASK_UTILS.build(models[0][head]['bbox_head']['refine_targets'])
    assert isinstance(targets, PCLTargets)
    assert isinstance(targets.loss_refine, PCLLoss)
    assert isinstance(
        TASK_UTILS.build(models[1][head]['bbox_head']['refine_targets']),
        OICRTargets)
