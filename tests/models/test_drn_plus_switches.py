"""The switches of the DRN beyond the paper ("Ours+"): proposals never
taken as background (``unlabelled_topk``), several SCM boxes per class
(``max_per_query``) and the per-stage outputs (``predict_stages``)."""
import pytest
import torch
from _drn_plus import plus_model, plus_model_and_batch
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmengine.structures import InstanceData

from mmdet_csod.models.scm import SpatialCorrelationModule

NUM_CLASSES = 10
NOVEL = [5, 6, 7, 8, 9]


pytestmark = pytest.mark.usefixtures('one_thread')


def _labels(rows):
    """[B, NUM_CLASSES] multi-hot image labels from lists of labels."""
    out = torch.zeros(len(rows), NUM_CLASSES)
    for i, row in enumerate(rows):
        out[i, row] = 1
    return out


# --------------------------------------------- SharedFeatureRoIHead.loss
def test_unlabelled_proposals_are_never_sampled_as_negatives(
        synthetic_root, monkeypatch):
    """Flagged proposals away from every box are ignored (never sampled as
    background); flagged ones on a box (IoU >= 0.5) stay positives; the
    others are assigned as without the flags."""
    model, batch = plus_model_and_batch(synthetic_root)
    model.train()
    head = model.roi_head
    cfg = head.train_cfg
    assert cfg.assigner.pos_iou_thr == cfg.assigner.neg_iou_thr == 0.5
    assert cfg.sampler.add_gt_as_proposals  # indices over [gt; proposals]
    data = model.data_preprocessor(batch, True)
    samples = data['data_samples']
    x = model.extract_feat(data['inputs'])
    props = [get_box_tensor(s.proposals.bboxes) for s in samples]
    gts = [get_box_tensor(s.gt_instances.bboxes) for s in samples]
    best_iou = [bbox_overlaps(p, g).amax(dim=1) for p, g in zip(props, gts)]
    masks = []
    for p, g in zip(props, gts):
        m = torch.arange(len(p)) % 2 == 0
        m[bbox_overlaps(p, g).argmax(dim=0)] = True  # each box's best
        masks.append(m)
    # the flags cover both positives and would-be negatives
    assert any((m & (iou >= 0.5)).any() for m, iou in zip(masks, best_iou))
    assert all((m & (iou < 0.5)).any() for m, iou in zip(masks, best_iou))

    calls = []  # (assignment over [gt; proposals], sampling result)
    sample = head.bbox_sampler.sample

    def recording_sample(assign_result, *args, **kwargs):
        res = sample(assign_result, *args, **kwargs)
        calls.append((assign_result.gt_inds.clone(), res))
        return res

    monkeypatch.setattr(head.bbox_sampler, 'sample', recording_sample)

    def run(unlabelled):
        calls.clear()
        torch.manual_seed(0)  # the same random sample of RoIs
        losses = head.loss(x, [InstanceData(bboxes=p) for p in props],
                           samples, unlabelled=unlabelled)
        assert all(torch.isfinite(v).all() for v in losses.values())
        assert len(calls) == len(props)
        out = []
        for (gt_inds, res), g in zip(calls, gts):
            assert res.num_gts == len(g)
            out.append((gt_inds[len(g):], res.pos_inds - len(g),
                        res.neg_inds - len(g)))
        return out

    flagged_negs_without = 0
    for (gt_inds, _, neg), m, iou in zip(run(masks), masks, best_iou):
        positive = iou >= 0.5
        assert torch.equal(gt_inds > 0, positive)  # flagged or not
        assert torch.equal(gt_inds == -1, m & ~positive)
        assert torch.equal(gt_inds == 0, ~m & ~positive)
        assert len(neg) and not m[neg].any()
    for (gt_inds, _, neg), m, iou in zip(run(None), masks, best_iou):
        assert torch.equal(gt_inds == 0, iou < 0.5)
        flagged_negs_without += int(m[neg].sum())
    assert flagged_negs_without > 0  # the flags are what kept them out

    # every proposal flagged: no background at all, positives only
    for gt_inds, pos, neg in run([torch.ones(len(p), dtype=torch.bool)
                                  for p in props]):
        assert len(neg) == 0 and len(pos) > 0
        assert not (gt_inds == 0).any()

    with pytest.raises(ValueError, match='one row per proposal'):
        head.loss(x, [InstanceData(bboxes=p) for p in props], samples,
                  unlabelled=[m[:-1] for m in masks])


# ------------------------------------------------ DRN.unlabelled_proposals
def test_unlabelled_proposals_rule():
    """Flagged iff among the ``unlabelled_topk`` proposals of a present
    novel class (by its recognition score); base classes and absent novel
    classes never flag."""
    model = plus_model(unlabelled_topk=2)
    assert model.rec_label_map == list(range(NUM_CLASSES))
    assert model.novel_labels == NOVEL
    # image 0: base 0 and novel 5, 7 present
    s0 = torch.zeros(6, NUM_CLASSES)
    s0[:, 5] = torch.tensor([0.8, 0.5, 0.3, 0.1, 0.05, 0.])
    s0[:, 7] = torch.tensor([0., 0.01, 0.02, 0.2, 0.09, 0.03])
    s0[5, 0] = 0.9  # a base class present: never flags
    s0[[2, 5], 6] = 0.9  # a novel class absent: never flags
    # image 1: novel 8 present, novel 9 absent, base 1 present
    s1 = torch.zeros(3, NUM_CLASSES)
    s1[:, 8] = torch.tensor([0.1, 0.3, 0.2])
    s1[:, 9] = torch.tensor([0.9, 0.01, 0.02])
    s1[:, 1] = torch.tensor([0.9, 0.01, 0.02])
    # image 2: novel 6 present, no proposal
    s2 = torch.zeros(0, NUM_CLASSES)
    # image 3: only base classes, high novel scores
    s3 = torch.rand(4, NUM_CLASSES,
                    generator=torch.Generator().manual_seed(0))
    # image 4: fewer proposals than k
    s4 = torch.full((1, NUM_CLASSES), 0.5)
    labels = _labels([[0, 5, 7], [1, 8], [6], [2, 3], [9]])
    scores = [s0, s1, s2, s3, s4]
    out = model.unlabelled_proposals(scores, labels)
    assert [o.dtype for o in out] == [torch.bool] * 5
    assert out[0].tolist() == [True, True, False, True, True, False]
    assert out[1].tolist() == [False, True, True]
    assert out[2].shape == (0, )
    assert out[3].tolist() == [False] * 4
    assert out[4].tolist() == [True]
    # k = 1: each present novel class's top proposal only
    model.unlabelled_topk = 1
    out = model.unlabelled_proposals(scores, labels)
    assert out[0].tolist() == [True, False, False, True, False, False]
    assert out[1].tolist() == [False, True, False]


@pytest.mark.parametrize('k', [0, -1])
def test_unlabelled_topk_out_of_range(k):
    with pytest.raises(ValueError, match='unlabelled_topk'):
        plus_model(unlabelled_topk=k)


def test_unlabelled_topk_range_ends():
    assert plus_model(unlabelled_topk=1).unlabelled_topk == 1
    assert plus_model(unlabelled_topk=None).unlabelled_topk is None


# ------------------------------------------------------ a training step
def test_plus_training_step_and_the_unlabelled_switch(synthetic_root):
    model, batch = plus_model_and_batch(synthetic_root)
    topk = 10  # the switch is set here: the Ours+ config no longer sets it
    model.train()
    model.pseudo_gt_enabled = True
    data = model.data_preprocessor(batch, True)
    runs = {}
    for value in (None, topk):
        model.unlabelled_topk = value
        model.zero_grad()
        torch.manual_seed(0)  # the same random sample of RoIs
        losses = model(**data, mode='loss')
        assert {k.split('_')[0] for k in losses} == {'rec', 'scm', 'det'}
        total = sum(v for k, v in losses.items() if 'loss' in k)
        assert torch.isfinite(total)
        total.backward()
        assert model.backbone.stages[0][0].conv.weight.grad.abs().sum() > 0
        assert model.roi_head.bbox_head.fc_cls.weight.grad.abs().sum() > 0
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in model.scm.parameters())
        runs[value] = {k: v.detach() for k, v in losses.items()}
    plain, plus = runs[None], runs[topk]
    assert plain.keys() == plus.keys()
    for k in plain:
        if not k.startswith('det_'):  # what comes before the switch
            assert torch.equal(plain[k], plus[k]), k
    assert any(not torch.equal(plain[k], plus[k]) for k in plain
               if k.startswith('det_'))


# ------------------------------------------------ SCM: boxes per query
def _found(boxes, scores):
    boxes = torch.tensor(boxes, dtype=torch.float32)
    return InstanceData(bboxes=boxes, scores=torch.tensor(scores),
                        labels=torch.zeros(len(boxes), dtype=torch.long))


def _scm_case():
    """Proposals of two images, three queries and, per query, what the
    heatmap detector finds (heatmap pixels, stride 4)."""
    img_shapes = [(60, 80), (72, 50)]
    g = torch.Generator().manual_seed(0)
    proposals, scores = [], []
    for h, w in img_shapes:
        xy = torch.rand(20, 2, generator=g) * torch.tensor([w, h]) * 0.6
        proposals.append(torch.cat([xy, xy + 10], dim=1))
        scores.append(torch.rand(20, 5, generator=g))
    queries = torch.tensor([[0, 1], [1, 3], [1, 0]])
    found = [
        # top 0.9; then 0.6 and 0.55; 0.5 passes the ratio but not the cap
        _found([[1, 1, 5, 5], [6, 2, 12, 8], [2, 6, 8, 12], [10, 1, 14, 6]],
               [0.9, 0.6, 0.5, 0.55]),
        # top 0.8; then 0.4 (= 0.5 * 0.8, kept); 0.3 below the ratio
        _found([[1, 1, 6, 6], [2, 8, 9, 14], [3, 3, 7, 9]], [0.4, 0.8, 0.3]),
        # the 0.95 box lies past the 50 px wide image: not a box at all
        _found([[20, 2, 25, 6], [1, 1, 4, 4]], [0.95, 0.7]),
    ]
    return proposals, scores, queries, img_shapes, found


def _scm(monkeypatch, found, **kwargs):
    scm = SpatialCorrelationModule(heatmap_stride=4, **kwargs)
    monkeypatch.setattr(scm.detector, 'predict', lambda *a, **k: found)
    return scm


def test_scm_several_boxes_per_query(monkeypatch):
    proposals, scores, queries, img_shapes, found = _scm_case()
    one = _scm(monkeypatch, found).predict(proposals, scores, queries,
                                           img_shapes)
    res = _scm(monkeypatch, found, max_per_query=3,
               min_score_ratio=0.5).predict(proposals, scores, queries,
                                            img_shapes)
    q = len(queries)
    assert len(one) == q and len(res) > q
    # the first Q rows: exactly the one-box-per-query result
    for key in ('bboxes', 'scores', 'from_fallback', 'query_ids', 'img_ids',
                'labels'):
        assert torch.equal(res[key][:q], one[key]), key
    assert res.query_ids[:q].tolist() == [0, 1, 2]
    torch.testing.assert_close(
        one.bboxes,
        torch.tensor([[4., 4., 20., 20.], [8., 32., 36., 56.],
                      [4., 4., 16., 16.]]))
    torch.testing.assert_close(one.scores, torch.tensor([0.9, 0.8, 0.7]))
    # the further ones: their query's, by decreasing score
    assert res.query_ids[q:].tolist() == [0, 0, 1]
    torch.testing.assert_close(
        res.bboxes[q:],
        torch.tensor([[24., 8., 48., 32.], [40., 4., 56., 24.],
                      [4., 4., 24., 24.]]))
    torch.testing.assert_close(res.scores[q:],
                               torch.tensor([0.6, 0.55, 0.4]))
    top = res.scores[:q][res.query_ids[q:]]
    assert (res.scores[q:] >= 0.5 * top).all()
    assert not res.from_fallback[q:].any()
    assert torch.equal(res.img_ids, queries[res.query_ids, 0])
    assert torch.equal(res.labels, queries[res.query_ids, 1])
    # a stricter ratio keeps fewer
    strict = _scm(monkeypatch, found, max_per_query=3,
                  min_score_ratio=0.65).predict(proposals, scores, queries,
                                                img_shapes)
    assert strict.query_ids[q:].tolist() == [0]


def test_scm_box_count_arguments():
    for bad in (dict(max_per_query=0), dict(min_score_ratio=-0.1),
                dict(min_score_ratio=1.5)):
        with pytest.raises(ValueError, match='max_per_query'):
            SpatialCorrelationModule(**bad)
    scm = SpatialCorrelationModule(max_per_query=4, min_score_ratio=0)
    assert (scm.max_per_query, scm.min_score_ratio) == (4, 0)
    assert SpatialCorrelationModule(min_score_ratio=1).min_score_ratio == 1


# ------------------------------------------- DRN.pseudo_boxes with them
def test_pseudo_boxes_with_several_scm_boxes(monkeypatch):
    """Every SCM row lands in its own image with its global label."""
    # the SCM's boxes, whatever they are worth
    model = plus_model(scm_gate=None)
    assert model.pseudo_gt == 'scm'
    g = torch.Generator().manual_seed(0)
    proposals = [torch.rand(8, 4, generator=g) * 20 + torch.tensor(
        [0., 0., 20., 20.]) for _ in range(3)]
    rec_scores = [torch.rand(8, NUM_CLASSES, generator=g) for _ in range(3)]
    # novel 5 and 7 in image 0, none in image 1, 9 in image 2
    labels = _labels([[0, 5, 7], [2], [1, 9]])
    seen = []
    qids = torch.tensor([0, 1, 2, 0, 2, 2])  # Q = 3 first, then extras

    def predict(props, scores, queries, img_shapes, feats=None):
        seen.append(queries.clone())
        n = len(qids)
        return InstanceData(
            bboxes=torch.arange(n * 4, dtype=torch.float32).reshape(n, 4),
            scores=torch.linspace(1, 0.5, n),
            from_fallback=torch.tensor([True] + [False] * (n - 1)),
            query_ids=qids,
            img_ids=queries[qids, 0],
            labels=queries[qids, 1])

    monkeypatch.setattr(model.scm, 'predict', predict)
    res = model.pseudo_boxes(proposals, rec_scores, labels,
                             [(40, 40)] * 3)
    assert seen[0].tolist() == [[0, 5], [0, 7], [2, 9]]
    rows = {0: [0, 1, 3], 1: [], 2: [2, 4, 5]}
    expected_labels = {0: [5, 7, 5], 1: [], 2: [9, 9, 9]}
    ref = predict(None, None, seen[0], None)
    assert len(res) == 3
    for i, p in enumerate(res):
        assert p.labels.tolist() == expected_labels[i]
        assert torch.equal(p.bboxes, ref.bboxes[rows[i]])
        assert torch.equal(p.scores, ref.scores[rows[i]])
        assert torch.equal(p.from_fallback, ref.from_fallback[rows[i]])


# ------------------------------------------------- DRN.predict_stages
def test_predict_stages(synthetic_root):
    model, batch = plus_model_and_batch(synthetic_root, num=2,
                                        split='val_dataloader')
    model.eval()
    data = model.data_preprocessor(batch, False)
    inputs, samples = data['inputs'], data['data_samples']
    scaled = model.predict_stages(inputs, samples)
    plain = model.predict_stages(inputs, samples, rescale=False)
    with torch.no_grad():
        preds = model.predict(inputs, [s.clone() for s in samples])
    assert len(scaled) == len(plain) == len(samples)
    novel_seen = 0
    for i, (out, raw, sample, pred) in enumerate(
            zip(scaled, plain, samples, preds)):
        assert set(out) == set(raw) == {'mil', 'rec', 'scm', 'pseudo',
                                        'det'}
        present = torch.nonzero(sample.image_labels > 0).flatten().tolist()
        rec_present = [g for g in present if g in model.rec_label_map]
        novel = [g for g in present if g in model.novel_labels]
        novel_seen += len(novel)
        assert sorted(out['rec'].labels.tolist()) == sorted(rec_present)
        assert sorted(out['scm'].labels.tolist()) == sorted(rec_present)
        assert torch.equal(out['mil'].labels, out['rec'].labels)
        assert sorted(out['pseudo'].labels.tolist()) == sorted(novel)
        # rec boxes are proposals (the input's pixels without rescale)
        props = get_box_tensor(sample.proposals.bboxes)
        for box in raw['rec'].bboxes:
            assert (props == box).all(dim=1).any()
        # mil and rec: each class's top proposal by the MIL stream's and by
        # the refinement's scores
        with torch.no_grad():
            rec = model.rec_head.forward_rois(
                model.extract_feat(inputs[i:i + 1]), [sample.proposals])
        cols = [model.rec_label_map.index(g) for g in
                raw['rec'].labels.tolist()]
        for key, scores in (('mil', rec.outs['mil_scores']),
                            ('rec', rec.scores[0])):
            top = scores[:, cols].argmax(dim=0)
            assert torch.equal(raw[key].bboxes, rec.proposals[0][top]), key
            assert torch.equal(raw[key].scores,
                               scores[top, cols]), key
        # rescale: the same boxes divided by the scale factor
        sx, sy = sample.metainfo['scale_factor']
        inv = torch.tensor([sx, sy, sx, sy])
        for key in ('mil', 'rec', 'scm', 'pseudo'):
            assert torch.equal(out[key].labels, raw[key].labels), key
            assert torch.equal(out[key].scores, raw[key].scores), key
            torch.testing.assert_close(out[key].bboxes,
                                       raw[key].bboxes / inv)
        assert (sx, sy) != (1, 1)  # else the check above is void
        # det: the model's predictions
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(out['det'][key], pred.pred_instances[key])
    assert novel_seen > 0
