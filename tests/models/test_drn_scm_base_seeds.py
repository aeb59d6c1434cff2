"""rec_scm_base_seeds: the SCM's boxes of the base classes seed their
refinement (beside the novel classes' pseudo boxes), in a real training
step; they never reach the detection head, and no ground-truth box is a
recognition seed."""
import pytest
import torch
from _drn_plus import plus_model, plus_model_and_batch
from conftest import record_calls
from mmdet.structures.bbox import get_box_tensor

pytestmark = pytest.mark.usefixtures('one_thread')


def _record(model, monkeypatch):
    """The seeds the refinement gets, the samples the detection head gets
    and the SCM's base-class boxes, call by call."""
    return dict(
        seeds=record_calls(monkeypatch, model.rec_head.bbox_head, 'loss',
                           lambda args, kwargs, _: args[3]),
        det=record_calls(monkeypatch, model.roi_head, 'loss',
                         lambda args, kwargs, _: args[2]),
        base=record_calls(monkeypatch, model, 'base_scm_boxes'))


def test_base_classes_seeded_by_the_scm_not_by_their_boxes(
        synthetic_root, monkeypatch):
    model, batch = plus_model_and_batch(synthetic_root,
                                        rec_scm_base_seeds=True)
    seen = _record(model, monkeypatch)
    model.train()
    data = model.data_preprocessor(batch, True)
    model.pseudo_gt_enabled = False  # the warm-up: the paper's own seeds
    model(**data, mode='loss')
    assert seen['seeds'] == [None] and not seen['base']
    model.pseudo_gt_enabled = True
    losses = model(**data, mode='loss')
    assert len(seen['base']) == 1
    base = torch.tensor(model.base_labels)
    novel = torch.tensor(model.novel_labels)
    for sample, seed, scm_base, det in zip(data['data_samples'],
                                           seen['seeds'][1], seen['base'][0],
                                           seen['det'][1]):
        gt = sample.gt_instances
        # a base class with boxes in the image gets the SCM's box(es) of
        # it, which are not its ground truth
        assert set(scm_base.labels.tolist()) == set(gt.labels.tolist())
        is_base = torch.isin(seed.labels.cpu(), base)
        torch.testing.assert_close(seed.bboxes[is_base], scm_base.bboxes)
        assert torch.equal(seed.labels[is_base], scm_base.labels)
        assert not torch.equal(seed.bboxes[is_base].sort(0).values,
                               get_box_tensor(gt.bboxes).sort(0).values)
        # the detection head: the base ground truth and the novel pseudo
        # boxes, no SCM box of a base class
        det_gt = det.gt_instances
        det_base = torch.isin(det_gt.labels.cpu(), base)
        torch.testing.assert_close(
            get_box_tensor(det_gt.bboxes)[det_base],
            get_box_tensor(gt.bboxes))
        assert torch.equal(seed.labels[~is_base], det_gt.labels[~det_base])
        assert torch.isin(det_gt.labels[~det_base].cpu(), novel).all()
    sum(v for k, v in losses.items() if 'loss' in k).backward()


def test_without_the_switch_base_classes_seed_themselves(
        synthetic_root, monkeypatch):
    model, batch = plus_model_and_batch(synthetic_root,
                                        rec_scm_base_seeds=False)
    seen = _record(model, monkeypatch)
    model.train()
    model.pseudo_gt_enabled = True
    model(**model.data_preprocessor(batch, True), mode='loss')
    assert not seen['base']
    base = torch.tensor(model.base_labels)
    assert not any(
        torch.isin(s.labels.cpu(), base).any() for s in seen['seeds'][0])


@pytest.mark.parametrize('model,match', [
    (dict(rec_pseudo_seeds=False), 'rec_pseudo_seeds'),
    (dict(rec_box_seeds=True), 'rec_box_seeds'),
])
def test_the_switch_needs_pseudo_seeds_and_no_box_seeds(model, match):
    with pytest.raises(ValueError, match=match):
        plus_model(rec_scm_base_seeds=True, **model)
