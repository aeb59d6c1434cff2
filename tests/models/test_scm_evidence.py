"""``DRN(scm_evidence=...)``: which stream of the recognition head the SCM
and the pseudo boxes are made from ('refined', the paper; 'mil')."""
import pytest
import torch
from _drn_plus import plus_model, plus_model_and_batch

from mmdet_csod.models.roi_heads.mil_roi_head import RecOutputs

pytestmark = pytest.mark.usefixtures('one_thread')


def test_scm_evidence_values():
    with pytest.raises(ValueError, match='scm_evidence'):
        plus_model(scm_evidence='refinement')
    model = plus_model(scm_evidence='mil')
    rec = RecOutputs([torch.zeros(3, 4)], torch.zeros(3, 8), {},
                     [torch.zeros(3, 10)])
    with pytest.raises(KeyError, match='mil_scores'):
        model.evidence_scores(rec)


@pytest.mark.parametrize('stream', ['refined', 'mil'])
def test_scm_evidence_reaches_every_reader(synthetic_root, monkeypatch,
                                           stream):
    """In a training step the SCM's loss, the novel pseudo boxes and the
    base seeds all read the chosen stream's scores of that step's
    recognition outputs (the base seeds with ``rec_scm_base_seeds``); the
    unlabelled proposals keep the refined ones."""
    model, batch = plus_model_and_batch(synthetic_root)
    model.scm_evidence = stream
    model.rec_scm_base_seeds = True  # a reader too when on (not in Ours+)
    model.exclusive_evidence = False  # the stream's scores as they are
    model.unlabelled_topk = 5
    model.train()
    model.pseudo_gt_enabled = True
    data = model.data_preprocessor(batch, True)
    seen = {}

    def spy(name, fn, pos):
        def wrapped(*args, **kwargs):
            seen.setdefault(name, args[pos])
            return fn(*args, **kwargs)
        monkeypatch.setattr(model, name, wrapped)

    forward = model.rec_head.forward_rois
    monkeypatch.setattr(
        model.rec_head, 'forward_rois',
        lambda *a, **k: seen.setdefault('rec', forward(*a, **k)))
    spy('pseudo_box_scores', model.pseudo_box_scores, 1)
    spy('base_scm_boxes', model.base_scm_boxes, 1)
    spy('unlabelled_proposals', model.unlabelled_proposals, 0)
    scm_loss = model.scm.loss

    def spy_scm_loss(*args, **kwargs):
        seen.setdefault('scm', args[1])
        return scm_loss(*args, **kwargs)

    monkeypatch.setattr(model.scm, 'loss', spy_scm_loss)
    model(**data, mode='loss')
    rec = seen['rec']
    refined = [s.detach() for s in rec.scores]
    mil = list(rec.outs['mil_scores'].detach().split(
        [len(p) for p in rec.proposals]))
    expected = mil if stream == 'mil' else refined
    assert not torch.equal(mil[0], refined[0])  # else the test is void
    for name in ('pseudo_box_scores', 'base_scm_boxes', 'scm'):
        assert len(seen[name]) == len(expected), name
        for got, want in zip(seen[name], expected):
            assert torch.equal(got, want), name
    for got, want in zip(seen['unlabelled_proposals'], refined):
        assert torch.equal(got, want)
