"""The DRN on generated data: losses, gradients, predictions, the no-leak
rule and the warm-up switch."""
import copy
import json
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, use_data_root
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import set_random_seed
from mmengine.structures import InstanceData

CSOD = osp.join(REPO_ROOT, 'configs', 'csod')
NOVEL = {5, 6, 7, 8, 9}


def _cfg(name, root):
    cfg = Config.fromfile(osp.join(CSOD, name + '.py'))
    use_data_root(cfg, root)
    return cfg


def _model_and_batch(cfg, num=4, split='train_dataloader'):
    ds = DATASETS.build(cfg[split].dataset)
    set_random_seed(0)  # the pipeline's random resize and flip too
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, pseudo_collate([ds[i] for i in range(num)])


@pytest.mark.parametrize('name', ['drn_tiny_synthetic',
                                  'ours-wo-scm_tiny_synthetic'])
def test_drn_step_losses_and_gradients(name, synthetic_root):
    cfg = _cfg(name, synthetic_root)
    model, batch = _model_and_batch(cfg)
    model.train()
    model.pseudo_gt_enabled = True
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    prefixes = {k.split('_')[0] for k in losses}
    expected = {'rec', 'det', 'scm'} if model.scm is not None else {
        'rec', 'det'}
    assert prefixes == expected
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.stages[0][0].conv.weight.grad.abs().sum() > 0
    # the detection head learns from the shared fc layers
    assert model.rec_head.shared_fcs[1].weight.grad.abs().sum() > 0
    assert model.roi_head.bbox_head.fc_cls.weight.grad.abs().sum() > 0


def test_pseudo_boxes_one_per_novel_class_present(synthetic_root):
    cfg = _cfg('ours-wo-scm_tiny_synthetic', synthetic_root)
    model, batch = _model_and_batch(cfg)
    data = model.data_preprocessor(batch, True)
    x = model.extract_feat(data['inputs'])
    rec = model.rec_head.forward_rois(
        x, [s.proposals for s in data['data_samples']])
    props, scores = rec.proposals, rec.scores
    labels = torch.stack([s.image_labels for s in data['data_samples']])
    shapes = [s.img_shape for s in data['data_samples']]
    pseudo = model.pseudo_boxes(props, [s.detach() for s in scores], labels,
                                shapes)
    for i, p in enumerate(pseudo):
        present = {g for g in NOVEL if labels[i, g] > 0}
        assert sorted(p.labels.tolist()) == sorted(present)
        # the recognition head's top-scoring proposal of that class
        for box, g in zip(p.bboxes, p.labels.tolist()):
            col = model.rec_label_map.index(g)
            assert torch.equal(box, props[i][scores[i][:, col].argmax()])


def test_novel_box_in_training_batch_is_refused(synthetic_root):
    cfg = _cfg('ours-wo-scm_tiny_synthetic', synthetic_root)
    cfg.train_dataloader.dataset.supervision = 'full'
    model, batch = _model_and_batch(cfg, num=8)
    data = model.data_preprocessor(batch, True)
    assert any(set(s.gt_instances.labels.tolist()) & NOVEL
               for s in data['data_samples'])
    with pytest.raises(ValueError, match='novel-class box'):
        model(**data, mode='loss')


def _shift_novel_boxes(src, dst):
    """A copy of the generated set whose novel boxes are all moved."""
    shutil.copytree(src, dst)
    path = osp.join(dst, 'annotations', 'train.json')
    with open(path) as f:
        data = json.load(f)
    rng = np.random.default_rng(0)
    moved = 0
    for ann in data['annotations']:
        if ann['category_id'] - 1 in NOVEL:
            ann['bbox'] = [float(v) for v in rng.uniform(2, 60, 4)]
            moved += 1
    assert moved > 0
    with open(path, 'w') as f:
        json.dump(data, f)


@pytest.mark.parametrize('name', ['drn_tiny_synthetic',
                                  'ours-wo-scm_tiny_synthetic'])
def test_training_never_reads_a_novel_box(name, synthetic_root, tmp_path):
    """Two training runs on data differing only in the novel boxes end
    with identical weights: no novel box reached anything."""
    shifted = str(tmp_path / 'shifted') + '/'
    _shift_novel_boxes(synthetic_root, shifted)
    states = []
    for root in (synthetic_root, shifted):
        cfg = _cfg(name, root)
        model, batch = _model_and_batch(cfg)
        model.train()
        model.pseudo_gt_enabled = True
        optim = torch.optim.SGD(model.parameters(), lr=0.01)
        torch.manual_seed(1)
        for _ in range(2):
            data = model.data_preprocessor(copy.deepcopy(batch), True)
            losses = model(**data, mode='loss')
            optim.zero_grad()
            sum(v for k, v in losses.items() if 'loss' in k).backward()
            optim.step()
        states.append(model.state_dict())
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key


@pytest.mark.parametrize('name',
                         ['drn_tiny_synthetic', 'two-head_tiny_synthetic'])
def test_predictions_cover_base_and_novel_labels(name, synthetic_root):
    cfg = _cfg(name, synthetic_root)
    model, batch = _model_and_batch(cfg, num=2, split='val_dataloader')
    model.eval()
    with torch.no_grad():
        out = model.test_step(batch)
    for sample in out:
        pred = sample.pred_instances
        assert ((pred.labels >= 0) & (pred.labels < 10)).all()
        h, w = sample.ori_shape
        assert (pred.bboxes[:, 2] <= w + 1e-3).all()


def test_only_the_detection_head_runs_at_inference(synthetic_root):
    cfg = _cfg('drn_tiny_synthetic', synthetic_root)
    model, batch = _model_and_batch(cfg, num=1, split='val_dataloader')
    model.eval()
    calls = []
    model.rec_head.bbox_head.register_forward_hook(
        lambda *a: calls.append('rec'))
    if model.scm is not None:
        model.scm.register_forward_hook(lambda *a: calls.append('scm'))
    with torch.no_grad():
        model.test_step(batch)
    assert calls == []


def test_detection_head_reuses_recognition_features(synthetic_root):
    """Gathering the sampled proposals' features from the recognition head
    gives the detection losses and gradients of pooling them again."""
    cfg = _cfg('drn_tiny_synthetic', synthetic_root)
    model, batch = _model_and_batch(cfg)
    model.train()
    data = model.data_preprocessor(batch, True)
    x = model.extract_feat(data['inputs'])
    samples = data['data_samples']
    rpn = [s.proposals for s in samples]
    feats = model.rec_head.forward_rois(x, rpn).feats
    feats = feats.split([len(r) for r in rpn])
    runs = []
    for reuse in (False, True):
        torch.manual_seed(7)  # the same random sample of RoIs
        model.zero_grad()
        losses = model.roi_head.loss(
            x, [InstanceData(bboxes=r.bboxes) for r in rpn], samples,
            proposal_feats=feats if reuse else None)
        total = sum(v for k, v in losses.items() if 'loss' in k)
        total.backward(retain_graph=True)
        runs.append((losses, model.rec_head.shared_fcs[0].weight.grad.clone()))
    (plain, g_plain), (reused, g_reused) = runs
    assert plain.keys() == reused.keys()
    for k in plain:
        torch.testing.assert_close(reused[k], plain[k])
    assert plain['loss_bbox'] > 0  # positives were sampled
    torch.testing.assert_close(g_reused, g_plain)
    # a feature list that does not match the proposals is refused
    with pytest.raises(ValueError, match='one row per proposal'):
        model.roi_head.loss(
            x, [InstanceData(bboxes=r.bboxes) for r in rpn], samples,
            proposal_feats=[f[:-1] for f in feats])
