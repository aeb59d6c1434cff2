"""Two DRN switches that act on the recognition head's seeds and on which
pseudo boxes the detection head gets: base boxes as the refinement's seeds
(``rec_box_seeds``) and the SCM gate (``scm_gate``)."""
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT, use_data_root
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import set_random_seed
from mmengine.structures import InstanceData

NUM_CLASSES = 10
NOVEL = [5, 6, 7, 8, 9]

pytestmark = pytest.mark.usefixtures('one_thread')


def _labels(rows):
    """[B, NUM_CLASSES] multi-hot image labels from lists of labels."""
    out = torch.zeros(len(rows), NUM_CLASSES)
    for i, row in enumerate(rows):
        out[i, row] = 1
    return out


# ------------------------------------- rec_box_seeds: base boxes as seeds
DRN_CFG = osp.join(REPO_ROOT, 'configs', 'csod', 'drn_tiny_synthetic.py')
WO_SCM = osp.join(REPO_ROOT, 'configs', 'csod',
                  'ours-wo-scm_tiny_synthetic.py')


def _drn(path=DRN_CFG, root=None, **model_kwargs):
    """A DRN of ``path`` with ``model_kwargs`` set on cfg.model (and the
    dataloaders at ``root``)."""
    cfg = Config.fromfile(path)
    if root is not None:
        use_data_root(cfg, root)
    cfg.model.update(model_kwargs)
    return MODELS.build(cfg.model), cfg


def _drn_and_batch(root, num=2, path=DRN_CFG, **model_kwargs):
    _, cfg = _drn(path, root)
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    set_random_seed(0)
    model, _ = _drn(path, root, **model_kwargs)
    model.init_weights()
    return model, pseudo_collate([ds[i] for i in range(num)])


def _sample(boxes, labels):
    from mmdet.structures import DetDataSample
    from mmdet.structures.bbox import HorizontalBoxes
    s = DetDataSample()
    s.gt_instances = InstanceData(
        bboxes=HorizontalBoxes(torch.tensor(boxes,
                                            dtype=torch.float).reshape(-1, 4)),
        labels=torch.tensor(labels, dtype=torch.long))
    return s


def test_rec_gt_instances_maps_labels_to_rec_columns():
    boxes = [[0, 0, 10, 10], [5, 5, 20, 20], [1, 2, 3, 4], [7, 7, 9, 9]]
    samples = [_sample(boxes, [3, 0, 6, 9]), _sample([], [])]
    # rec_classes='all': every box, labels unchanged (columns = labels)
    model, _ = _drn()
    assert model.rec_label_map == list(range(NUM_CLASSES))
    out = model.rec_gt_instances(samples)
    assert len(out) == 2
    assert isinstance(out[0].bboxes, torch.Tensor)
    assert torch.equal(out[0].bboxes, torch.tensor(boxes, dtype=torch.float))
    assert out[0].labels.tolist() == [3, 0, 6, 9]
    assert out[1].bboxes.shape == (0, 4) and out[1].labels.shape == (0, )
    # rec_classes='novel': the columns of novel 5..9 are 0..4, base boxes
    # (classes the head does not score) are left out
    model, _ = _drn(WO_SCM)
    assert model.rec_label_map == NOVEL
    out = model.rec_gt_instances(samples)
    assert torch.equal(out[0].bboxes,
                       torch.tensor(boxes[2:], dtype=torch.float))
    assert out[0].labels.tolist() == [1, 4]
    assert out[1].bboxes.shape == (0, 4) and out[1].labels.shape == (0, )
    # a training batch holds base boxes only: nothing is left
    out = model.rec_gt_instances([_sample(boxes[:2], [3, 0])])
    assert out[0].bboxes.shape == (0, 4) and out[0].labels.shape == (0, )


def test_rec_box_seeds_change_only_the_refinement_losses(synthetic_root):
    model, batch = _drn_and_batch(synthetic_root, rec_box_seeds=True)
    assert model.rec_box_seeds
    model.train()
    data = model.data_preprocessor(batch, True)
    seeds = model.rec_gt_instances(data['data_samples'])
    assert sum(len(g) for g in seeds) > 0  # base boxes in the batch
    runs = {}
    for value in (False, True):
        model.rec_box_seeds = value
        torch.manual_seed(0)
        with torch.no_grad():
            losses = model(**data, mode='loss')
        runs[value] = {k: v for k, v in losses.items()}
    plain, seeded = runs[False], runs[True]
    assert plain.keys() == seeded.keys()
    refine = [k for k in plain if k.startswith('rec_loss_refine')]
    assert len(refine) == model.rec_head.bbox_head.num_refine == 2
    assert torch.equal(plain['rec_loss_mil'], seeded['rec_loss_mil'])
    for k in refine:
        assert not torch.equal(plain[k], seeded[k]), k
        assert torch.isfinite(seeded[k])


# ------------------------------------------------------------- scm_gate
def test_scm_gate_arguments():
    model, _ = _drn(scm_gate=dict(momentum=0.5))
    assert model.scm_gate == dict(momentum=0.5, gate_seeds=True)
    assert torch.equal(model.scm_gate_iou, torch.zeros(2))
    assert 'scm_gate_iou' in model.state_dict()
    assert _drn(scm_gate=dict())[0].scm_gate == dict(momentum=0.9,
                                                     gate_seeds=True)
    assert _drn(scm_gate=dict(momentum=0, gate_seeds=False))[0].scm_gate \
        == dict(momentum=0, gate_seeds=False)
    with pytest.raises(ValueError, match="unknown keys \\['seeds'\\]"):
        _drn(scm_gate=dict(seeds=False))
    plain, _ = _drn()
    assert plain.scm_gate is None
    assert 'scm_gate_iou' not in plain.state_dict()
    assert plain.scm_earns_its_place()
    with pytest.raises(ValueError, match='scm_gate needs an scm'):
        _drn(WO_SCM, scm_gate=dict(momentum=0.5))
    for momentum in (-0.1, 1, 1.5):
        with pytest.raises(ValueError, match='momentum'):
            _drn(scm_gate=dict(momentum=momentum))


def _gate_case():
    """Two images, two base queries; query 0 has two gt boxes, the SCM's
    box overlaps the first at 0.5 and the rec top box the second at 0.5;
    query 1: the SCM's box is its gt box, the rec top box half of it."""
    proposals = [
        torch.tensor([[0., 0., 5., 5.], [20., 20., 30., 40.],
                      [0., 0., 40., 40.]]),
        torch.tensor([[0., 0., 10., 20.], [30., 30., 50., 50.]]),
    ]
    rec_scores = [torch.full((3, NUM_CLASSES), 0.1),
                  torch.full((2, NUM_CLASSES), 0.1)]
    rec_scores[0][1, 1] = 0.9  # query (0, 1): proposal 1
    rec_scores[1][0, 2] = 0.8  # query (1, 2): proposal 0
    queries = torch.tensor([[0, 1], [1, 2]])
    targets = [torch.tensor([[0., 0., 10., 10.], [20., 20., 40., 40.]]),
               torch.tensor([[0., 0., 20., 20.]])]
    # the SCM's boxes, query by query, plus a further one of query 0
    scm_boxes = torch.tensor([[0., 0., 10., 5.], [0., 0., 20., 20.],
                              [20., 20., 40., 40.]])
    return proposals, rec_scores, queries, targets, scm_boxes


def _fake_scm_predict(scm_boxes, calls):
    def predict(proposals, scores, queries, img_shapes, feats=None):
        calls.append(queries.clone())
        n = len(scm_boxes)
        qids = torch.cat([torch.arange(len(queries)),
                          torch.zeros(n - len(queries), dtype=torch.long)])
        return InstanceData(bboxes=scm_boxes.clone(),
                            scores=torch.linspace(0.9, 0.5, n),
                            from_fallback=torch.zeros(n, dtype=torch.bool),
                            query_ids=qids, img_ids=queries[qids, 0],
                            labels=queries[qids, 1])
    return predict


def test_update_scm_gate_folds_the_batch_mean_iou(monkeypatch):
    model, _ = _drn(scm_gate=dict(momentum=0.25))
    proposals, rec_scores, queries, targets, scm_boxes = _gate_case()
    calls = []
    monkeypatch.setattr(model.scm, 'predict',
                        _fake_scm_predict(scm_boxes, calls))
    shapes = [(60, 60), (60, 60)]
    model.scm_gate_iou.copy_(torch.tensor([0.2, 0.4]))
    model.update_scm_gate(proposals, rec_scores, queries, targets, shapes)
    assert len(calls) == 1 and torch.equal(calls[0], queries)
    # batch means: SCM (0.5 + 1) / 2, rec top box (0.5 + 0.5) / 2; the
    # buffer becomes 0.25 old + 0.75 new
    torch.testing.assert_close(model.scm_gate_iou,
                               torch.tensor([0.6125, 0.475]))
    model.update_scm_gate(proposals, rec_scores, queries, targets, shapes)
    expect = torch.tensor([0.715625, 0.49375])
    torch.testing.assert_close(model.scm_gate_iou, expect)
    # no base query: nothing to measure, nothing moves
    model.update_scm_gate(proposals, rec_scores,
                          torch.zeros((0, 2), dtype=torch.long), [], shapes)
    assert len(calls) == 2
    torch.testing.assert_close(model.scm_gate_iou, expect)


def test_scm_gate_picks_the_pseudo_boxes(monkeypatch):
    model, _ = _drn(scm_gate=dict(momentum=0.5))
    g = torch.Generator().manual_seed(0)
    proposals = [torch.rand(8, 4, generator=g) * 20 + torch.tensor(
        [0., 0., 20., 20.]) for _ in range(2)]
    rec_scores = [torch.rand(8, NUM_CLASSES, generator=g) for _ in range(2)]
    labels = _labels([[0, 5, 7], [1, 9]])
    scm_boxes = torch.tensor([[1., 1., 5., 5.], [2., 2., 6., 6.],
                              [3., 3., 7., 7.]])
    calls = []
    monkeypatch.setattr(model.scm, 'predict',
                        _fake_scm_predict(scm_boxes, calls))

    def run():
        calls.clear()
        return model.pseudo_boxes(proposals, rec_scores, labels,
                                  [(40, 40)] * 2)

    model.scm_gate_iou.copy_(torch.tensor([0.6, 0.4]))
    assert model.scm_earns_its_place()
    res = run()
    assert len(calls) == 1
    assert torch.equal(res[0].bboxes, scm_boxes[:2])
    assert torch.equal(res[1].bboxes, scm_boxes[2:])
    assert res[0].labels.tolist() == [5, 7] and res[1].labels.tolist() == [9]
    # the gate closed (the rec top box as good or better): the top boxes
    for iou in ([0.4, 0.6], [0.5, 0.5], [0., 0.]):
        model.scm_gate_iou.copy_(torch.tensor(iou))
        assert not model.scm_earns_its_place()
        res = run()
        assert calls == []
        for i, classes in enumerate([[5, 7], [9]]):
            top = [int(rec_scores[i][:, c].argmax()) for c in classes]
            assert res[i].labels.tolist() == classes
            assert torch.equal(res[i].bboxes, proposals[i][top])
            assert torch.equal(res[i].scores,
                               rec_scores[i][top, classes])
            assert not res[i].from_fallback.any()


def test_scm_gate_moves_in_a_training_step(synthetic_root):
    model, batch = _drn_and_batch(synthetic_root, scm_gate=dict(momentum=0.5))
    model.train()
    model.pseudo_gt_enabled = True
    data = model.data_preprocessor(batch, True)
    # proposals of nearly the whole image: whichever the untrained heads
    # pick, the recognition top box overlaps every base box
    for s in data['data_samples']:
        h, w = s.metainfo['img_shape'][:2]
        k = torch.arange(8.)[:, None]
        s.proposals = InstanceData(
            bboxes=torch.cat([k, k, w - k, h - k], dim=1),
            scores=torch.ones(8))
    calls = []
    update = model.update_scm_gate

    def recording_update(*args, **kwargs):
        calls.append(model.scm_gate_iou.clone())
        return update(*args, **kwargs)

    model.update_scm_gate = recording_update
    with torch.no_grad():
        losses = model(**data, mode='loss')
    assert {k.split('_')[0] for k in losses} == {'rec', 'scm', 'det'}
    assert len(calls) == 1 and torch.equal(calls[0], torch.zeros(2))
    iou = model.scm_gate_iou
    assert iou[1] > 0
    assert ((iou >= 0) & (iou <= 0.5)).all()  # (1 - momentum) * mean IoU
