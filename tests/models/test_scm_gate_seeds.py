"""scm_gate's ``gate_seeds``: a closed gate hands the detection head the
recognition head's top boxes; with ``gate_seeds=False`` the refinement
seeds of ``rec_pseudo_seeds`` stay the SCM's boxes (a real training step of
Ours+); with the default the seeds follow the gate, as before."""
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT, record_calls, use_data_root
from mmdet.registry import DATASETS, MODELS
from mmdet.structures.bbox import get_box_tensor
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import set_random_seed

PLUS = osp.join(REPO_ROOT, 'configs', 'csod', 'drn-plus_tiny_synthetic.py')

pytestmark = pytest.mark.usefixtures('one_thread')


def _model_and_batch(root, **gate):
    cfg = Config.fromfile(PLUS)
    use_data_root(cfg, root)
    # momentum 0.99: one batch cannot move a preset gate across
    cfg.model.scm_gate = dict(momentum=0.99, **gate)
    # the gate on the novel classes' seeds only (measured without the base
    # classes' SCM seeds)
    cfg.model.rec_scm_base_seeds = False
    # the untrained SCM's boxes, not its fallback (the top proposals)
    cfg.model.scm.detector.test_cfg.score_thr = 0.
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    set_random_seed(0)
    net = MODELS.build(cfg.model)
    net.init_weights()
    return net, pseudo_collate([ds[i] for i in range(2)])


def _step(model, batch, monkeypatch, gate_iou):
    """One training step with the gate preset; returns the pseudo_boxes
    calls (gated flag, result), the refinement seeds and the detection
    head's samples."""
    seen = dict(
        pseudo=record_calls(
            monkeypatch, model, 'pseudo_boxes',
            lambda args, kwargs, out: (kwargs.get('gated', True), out)),
        seeds=record_calls(monkeypatch, model.rec_head.bbox_head, 'loss',
                           lambda args, kwargs, _: args[3]),
        det=record_calls(monkeypatch, model.roi_head, 'loss',
                         lambda args, kwargs, _: args[2]))
    model.train()
    model.pseudo_gt_enabled = True
    model.scm_gate_iou.copy_(torch.tensor(gate_iou))
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    return seen, data['data_samples']


def _novel_part(model, instances):
    novel = torch.isin(instances.labels.cpu(),
                       torch.tensor(model.novel_labels))
    return get_box_tensor(instances.bboxes)[novel], instances.labels[novel]


def _is_proposal(boxes, proposals):
    return all((proposals == b).all(1).any() for b in boxes)


def test_closed_gate_keeps_the_scm_seeds(synthetic_root, monkeypatch):
    model, batch = _model_and_batch(synthetic_root, gate_seeds=False)
    seen, samples = _step(model, batch, monkeypatch, [0., 1.])
    assert not model.scm_earns_its_place()
    # the detection head's pseudo boxes (gated: the top proposals), then
    # the SCM's boxes for the refinement
    assert [g for g, _ in seen['pseudo']] == [True, False]
    top, scm = seen['pseudo'][0][1], seen['pseudo'][1][1]
    for s, t, m, seed, det in zip(samples, top, scm, seen['seeds'][0],
                                  seen['det'][0]):
        props = get_box_tensor(s.proposals.bboxes)
        assert len(t) and _is_proposal(t.bboxes, props)
        assert len(t.labels.unique()) == len(t)  # one box per class
        assert set(m.labels.tolist()) == set(t.labels.tolist())
        assert not m.from_fallback.any()
        assert not torch.equal(m.bboxes[:len(t)], t.bboxes)
        det_boxes, det_labels = _novel_part(model, det.gt_instances)
        torch.testing.assert_close(det_boxes, t.bboxes)
        assert torch.equal(det_labels, t.labels)
        seed_boxes, seed_labels = _novel_part(model, seed)
        torch.testing.assert_close(seed_boxes, m.bboxes)
        assert torch.equal(seed_labels, m.labels)


def test_closed_gate_gates_the_seeds_by_default(synthetic_root,
                                                monkeypatch):
    """The behaviour before gate_seeds: seeds and detection head both get
    the top boxes."""
    model, batch = _model_and_batch(synthetic_root)
    assert model.scm_gate['gate_seeds'] is True
    seen, _ = _step(model, batch, monkeypatch, [0., 1.])
    assert [g for g, _ in seen['pseudo']] == [True]
    for t, seed, det in zip(seen['pseudo'][0][1], seen['seeds'][0],
                            seen['det'][0]):
        torch.testing.assert_close(_novel_part(model, seed)[0], t.bboxes)
        torch.testing.assert_close(
            _novel_part(model, det.gt_instances)[0], t.bboxes)


def test_open_gate_one_set_of_scm_boxes(synthetic_root, monkeypatch):
    model, batch = _model_and_batch(synthetic_root, gate_seeds=False)
    seen, samples = _step(model, batch, monkeypatch, [1., 0.])
    assert model.scm_earns_its_place()
    assert [g for g, _ in seen['pseudo']] == [True]
    for s, p, seed, det in zip(samples, seen['pseudo'][0][1],
                               seen['seeds'][0], seen['det'][0]):
        assert not p.from_fallback.any()
        assert not _is_proposal(p.bboxes, get_box_tensor(s.proposals.bboxes))
        torch.testing.assert_close(_novel_part(model, seed)[0], p.bboxes)
        torch.testing.assert_close(
            _novel_part(model, det.gt_instances)[0], p.bboxes)
