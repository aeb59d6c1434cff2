"""``DRN(exclusive_evidence=True)``: the SCM and the pseudo boxes are made
from recognition scores weighed against the image's other present
classes (``DRNEvidenceMixin.exclusive_scores``)."""
import pytest
import torch
from _drn_plus import (plus_model, plus_model_and_batch,
                       record_evidence_readers)

from mmdet_csod.models.roi_heads.mil_roi_head import RecOutputs
from mmdet_csod.structures import image_labels_of

pytestmark = pytest.mark.usefixtures('one_thread')


def _labels(model, present):
    """[B, C] image labels over all classes, from per image lists of
    recognition columns."""
    labels = torch.zeros(len(present), model.num_classes)
    for i, cols in enumerate(present):
        for c in cols:
            labels[i, model.rec_label_map[c]] = 1
    return labels


def test_each_present_class_weighed_by_the_strongest():
    model = plus_model(exclusive_evidence=True)
    c = len(model.rec_label_map)
    a = torch.rand(3, c) * 0.5
    a[0, :3] = torch.tensor([0.6, 0.3, 0.9])  # column 2 is not present
    a[1, :3] = torch.tensor([0.2, 0.8, 0.1])
    a[2, :2] = 0  # no present class scores it
    b = torch.rand(2, c)
    out = model.exclusive_scores([a, b], _labels(model, [[0, 1], [1]]))
    want = a.clone()
    want[0, :2] = torch.tensor([0.6, 0.3 * 0.3 / 0.6])
    want[1, :2] = torch.tensor([0.2 * 0.2 / 0.8, 0.8])
    assert torch.allclose(out[0], want)
    # one present class: its own column is the strongest everywhere
    assert torch.allclose(out[1], b)
    assert out[0] is not a and torch.equal(a[0, 1], torch.tensor(0.3))


def test_the_rider_leaves_its_carrier():
    """A bird whose top proposal is the dog under it (the dog scores that
    proposal higher) gets its own box as the top proposal."""
    model = plus_model(exclusive_evidence=True)
    dog, bird = 0, 1
    scores = torch.zeros(3, len(model.rec_label_map))
    # proposals: dog with bird on it, the bird alone, the dog's head
    scores[:, dog] = torch.tensor([0.9, 0.1, 0.5])
    scores[:, bird] = torch.tensor([0.5, 0.4, 0.0])
    assert scores[:, bird].argmax() == 0  # the bug: the bird is the dog
    out, = model.exclusive_scores([scores], _labels(model, [[dog, bird]]))
    assert out[:, bird].argmax() == 1
    # the dog keeps its proposals; only the bird's one is weighed down
    assert torch.allclose(out[:, dog], torch.tensor([0.9, 0.1 * 0.1 / 0.4,
                                                     0.5]))


def test_evidence_scores_need_the_labels_and_leave_them_off():
    rec = RecOutputs([torch.zeros(2, 4)], torch.zeros(2, 8), {},
                     [torch.tensor([[0.2, 0.6] + [0.] * 8])])
    model = plus_model(exclusive_evidence=True)
    with pytest.raises(ValueError, match='image labels'):
        model.evidence_scores(rec)
    labels = _labels(model, [[0, 1]])
    got, = model.evidence_scores(rec, labels)
    assert torch.allclose(got[0, :2], torch.tensor([0.2 * 0.2 / 0.6, 0.6]))
    plain, = plus_model(exclusive_evidence=False).evidence_scores(rec, labels)
    assert torch.equal(plain, rec.scores[0])


def test_a_training_step_reads_the_weighed_scores(synthetic_root,
                                                  monkeypatch):
    """In a real training step the SCM's loss and the pseudo boxes get the
    weighed scores of that step's recognition outputs; the unlabelled
    proposals keep the recognition head's own."""
    model, batch = plus_model_and_batch(synthetic_root)
    model.exclusive_evidence = True
    model.unlabelled_topk = 5
    model.train()
    model.pseudo_gt_enabled = True
    data = model.data_preprocessor(batch, True)
    seen = record_evidence_readers(model, monkeypatch)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    loss.backward()
    rec = seen['rec'][0]
    refined = [s.detach() for s in rec.scores]
    labels = image_labels_of(data['data_samples'])
    want = model.exclusive_scores(refined, labels)
    assert not torch.equal(want[0], refined[0])  # else the test is void
    for name in ('pseudo_box_scores', 'scm'):
        for got, w in zip(seen[name][0], want):
            assert torch.equal(got, w), name
    for got, w in zip(seen['unlabelled_proposals'][0], refined):
        assert torch.equal(got, w)
