"""The SCM's selection and pseudo boxes, batched over queries, against the
per-query rule they implement (written out here one query at a time)."""
import pytest
import torch
from mmengine.structures import InstanceData

from mmdet_csod.models.scm import SpatialCorrelationModule

pytestmark = pytest.mark.usefixtures('one_thread')


def _select_one_by_one(scm, proposals, scores, queries):
    """Per query: proposals by decreasing score, at most ``max_boxes``, kept
    while ``>= score_thr`` times the top score."""
    selected = []
    for i, c in queries.tolist():
        s = scores[i][:, c]
        order = s.argsort(descending=True)[:scm.max_boxes]
        s = s[order]
        if len(s):
            keep = s >= scm.score_thr * s[0]
            order, s = order[keep], s[keep]
        selected.append(InstanceData(bboxes=proposals[i][order], scores=s))
    return selected


def _pseudo_boxes_one_by_one(scm, selected, results, queries, img_shapes):
    """Per query: the detector's best box inside the image (>= 1 px), then
    its next ones scoring >= ``min_score_ratio`` of it, up to
    ``max_per_query``; else the top selected proposal, else the image."""
    first_boxes, first_scores, fallback = [], [], []
    extras, extra_scores, extra_ids = [], [], []
    for q, ((i, _), res, sel) in enumerate(
            zip(queries.tolist(), results, selected)):
        h, w = img_shapes[i]
        boxes = res.bboxes * scm.heatmap_stride
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
        valid = ((boxes[:, 2:] - boxes[:, :2]) >= 1).all(1) & \
            torch.isfinite(boxes).all(1)
        if valid.any():
            s = res.scores.masked_fill(~valid, -1)
            order = s.argsort(descending=True)
            top = order[0]
            first_boxes.append(boxes[top])
            first_scores.append(s[top])
            fallback.append(False)
            more = order[1:scm.max_per_query]
            more = more[s[more] >= scm.min_score_ratio * s[top]]
            extras += list(boxes[more])
            extra_scores += list(s[more])
            extra_ids += [q] * len(more)
            continue
        fallback.append(True)
        if len(sel):
            box = sel.bboxes[0].clone()
            box[0::2] = box[0::2].clamp(0, w)
            box[1::2] = box[1::2].clamp(0, h)
            first_boxes.append(box)
            first_scores.append(sel.scores[0])
        else:
            first_boxes.append(torch.tensor([0., 0., w, h]))
            first_scores.append(torch.tensor(0.))
    return (torch.stack(first_boxes + extras),
            torch.stack(first_scores + extra_scores),
            torch.tensor(fallback + [False] * len(extras)),
            torch.tensor(list(range(len(queries))) + extra_ids))


def _case(seed):
    """Images of different sizes (one without proposals), random queries and
    detections: some past the image, some NaN, some queries with none."""
    g = torch.Generator().manual_seed(seed)
    img_shapes = [(60, 80), (72, 50), (40, 40), (90, 30)]
    num_props = [35, 0, 12, 60]
    proposals, scores = [], []
    for (h, w), n in zip(img_shapes, num_props):
        xy = torch.rand(n, 2, generator=g) * torch.tensor([w, h]) * 0.8
        wh = torch.rand(n, 2, generator=g) * torch.tensor([w, h]) * 0.4 + 1
        proposals.append(torch.cat([xy, xy + wh], dim=1))
        scores.append(torch.rand(n, 6, generator=g))
    queries = torch.stack([
        torch.randint(0, 4, (11, ), generator=g),
        torch.randint(0, 6, (11, ), generator=g)
    ], 1)
    results = []
    for q in range(len(queries)):
        n = int(torch.randint(0, 6, (1, ), generator=g))
        if q % 4 == 3:
            n = 0
        h, w = img_shapes[int(queries[q, 0])]
        size = torch.tensor([w, h]) / 4  # heatmap px, stride 4
        xy = torch.rand(n, 2, generator=g) * size * 0.9 - 1
        wh = torch.rand(n, 2, generator=g) * size * 0.4
        boxes = torch.cat([xy, xy + wh], 1)
        if n and q % 3 == 0:
            boxes[0, 0::2] += size[0]  # past the image: clips to no width
        if n and q % 5 == 1:
            boxes[-1, 0] = float('nan')
        results.append(
            InstanceData(bboxes=boxes,
                         scores=torch.rand(n, generator=g),
                         labels=torch.zeros(n, dtype=torch.long)))
    return proposals, scores, queries, img_shapes, results


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('cfg', [
    dict(score_thr=0.1, max_boxes=100, max_per_query=1),
    dict(score_thr=0.6, max_boxes=5, max_per_query=3, min_score_ratio=0.4),
    dict(score_thr=0.0, max_boxes=200, max_per_query=4, min_score_ratio=0.0),
])
def test_batched_scm_matches_the_per_query_rule(monkeypatch, seed, cfg):
    scm = SpatialCorrelationModule(heatmap_stride=4, **cfg)
    proposals, scores, queries, img_shapes, results = _case(seed)

    selected = scm.select(proposals, scores, queries)
    expected = _select_one_by_one(scm, proposals, scores, queries)
    assert len(selected) == len(expected) == len(queries)
    for got, want in zip(selected, expected):
        torch.testing.assert_close(got.bboxes, want.bboxes)
        torch.testing.assert_close(got.scores, want.scores)
    # queries on the image without proposals select nothing
    assert all(len(s) == 0 for s, (i, _) in zip(selected, queries.tolist())
               if i == 1)

    monkeypatch.setattr(scm.detector, 'predict',
                        lambda *a, **k: [r.clone() for r in results])
    res = scm.predict(proposals, scores, queries, img_shapes)
    boxes, out_scores, fallback, query_ids = _pseudo_boxes_one_by_one(
        scm, expected, results, queries, img_shapes)
    torch.testing.assert_close(res.bboxes, boxes)
    torch.testing.assert_close(res.scores, out_scores)
    assert res.from_fallback.tolist() == fallback.tolist()
    assert res.query_ids.tolist() == query_ids.tolist()
    assert res.img_ids.tolist() == queries[query_ids, 0].tolist()
    assert res.labels.tolist() == queries[query_ids, 1].tolist()
    # the case exercises every branch
    assert res.from_fallback.any() and not res.from_fallback.all()


def test_batched_selection_without_any_proposal():
    scm = SpatialCorrelationModule()
    queries = torch.tensor([[0, 0], [1, 0]])
    empty = [torch.zeros((0, 4)), torch.zeros((0, 4))]
    selected = scm.select(empty, [torch.zeros((0, 2))] * 2, queries)
    assert [len(s) for s in selected] == [0, 0]
    assert scm.select(empty, [torch.zeros((0, 2))] * 2,
                      torch.zeros((0, 2), dtype=torch.long)) == []
