"""``DRN(scm_evidence=...)``: which stream of the recognition head the SCM
and the pseudo boxes are made from ('refined', the paper; 'mil')."""
import pytest
import torch
from _drn_plus import (plus_model, plus_model_and_batch,
                       record_evidence_readers)

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
    seen = record_evidence_readers(model, monkeypatch)
    model(**data, mode='loss')
    rec = seen['rec'][0]
    refined = [s.detach() for s in rec.scores]
    mil = list(rec.outs['mil_scores'].detach().split(
        [len(p) for p in rec.proposals]))
    expected = mil if stream == 'mil' else refined
    assert not torch.equal(mil[0], refined[0])  # else the test is void
    for name in ('pseudo_box_scores', 'base_scm_boxes', 'scm'):
        assert len(seen[name][0]) == len(expected), name
        for got, want in zip(seen[name][0], expected):
            assert torch.equal(got, want), name
    for got, want in zip(seen['unlabelled_proposals'][0], refined):
        assert torch.equal(got, want)
