"""The weakly supervised detector on generated data: gradients, training."""
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

CONFIGS = ['wsddn_small-vgg_synthetic', 'oicr_small-vgg_synthetic',
           'pcl_small-vgg_synthetic']


def _setup(name, root, num=4):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/wsod', name + '.py'))
    cfg.train_dataloader.dataset.data_root = root
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    batch = pseudo_collate([ds[i] for i in range(num)])
    return cfg, model, batch


def test_weak_detector_losses_and_backbone_gradients(synthetic_root):
    _, model, batch = _setup('oicr_small-vgg_synthetic', synthetic_root)
    model.train()
    data = model.data_preprocessor(batch, True)
    for s in data['data_samples']:
        assert len(s.gt_instances) == 0  # weak-only: no box at all
    losses = model(**data, mode='loss')
    assert set(losses) == {
        'loss_mil', 'loss_refine0', 'loss_refine1', 'loss_refine2'}
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    grad = model.backbone.stages[0][0].conv.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert model.roi_head.shared_fcs[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize('name', CONFIGS)
def test_small_config_lowers_its_loss(name, synthetic_root):
    cfg, model, batch = _setup(name, synthetic_root)
    model.train()
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    totals = []
    for _ in range(12):
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
        total = sum(losses.values())
        optim.zero_grad()
        total.backward()
        optim.step()
        totals.append(total.item())
    assert all(map(lambda v: v == v, totals))  # finite, not nan
    assert min(totals[-3:]) < totals[0]


def test_predict_gives_instances_in_the_image(synthetic_root):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/wsod/oicr_small-vgg_synthetic.py'))
    cfg.val_dataloader.dataset.data_root = synthetic_root
    ds = DATASETS.build(cfg.val_dataloader.dataset)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    with torch.no_grad():
        out = model.test_step(pseudo_collate([ds[0], ds[1]]))
    for sample in out:
        pred = sample.pred_instances
        h, w = sample.ori_shape
        assert pred.bboxes.shape[1] == 4 and len(pred) <= 100
        assert (pred.labels >= 0).all() and (pred.labels < 10).all()
        assert (pred.bboxes[:, 2] <= w + 1e-3).all()
        assert (pred.bboxes[:, 3] <= h + 1e-3).all()


def test_proposal_instances_for_voc_corloc(synthetic_root):
    """With ``with_proposal_instances`` predict adds every proposal's raw
    scores (the same features), and the voc CorLoc reads its arg-max boxes
    from them without falling back to the NMS output."""
    from mmdet_csod.evaluation.metrics import CorLocMetric
    cfg, model, _ = _setup('oicr_small-vgg_synthetic', synthetic_root, 1)
    cfg.val_dataloader.dataset.data_root = synthetic_root
    val = DATASETS.build(cfg.val_dataloader.dataset)
    batch = pseudo_collate([val[i] for i in range(2)])
    model.eval()
    data = model.data_preprocessor(batch, False)
    with torch.no_grad():
        plain = model(**data, mode='predict')
    assert all('proposal_instances' not in s for s in plain)
    model.with_proposal_instances = True
    with torch.no_grad():
        out = model(**data, mode='predict')
        ref = model.predict_proposal_scores(
            data['inputs'], data['data_samples'])
    for s, p, r in zip(out, plain, ref):
        props = s.proposal_instances
        assert props.scores.shape == (len(s.proposals), 10)
        assert torch.allclose(props.scores, r.scores)
        assert torch.allclose(props.bboxes, r.bboxes)
        # the detections are the same as without the flag
        assert torch.equal(s.pred_instances.bboxes, p.pred_instances.bboxes)
    metric = CorLocMetric(convention='voc')
    metric.dataset_meta = val.metainfo
    metric.process({}, [s.to_dict() for s in out])
    assert len(metric.results) == 2
    assert not any(fallback for *_, fallback in metric.results)
