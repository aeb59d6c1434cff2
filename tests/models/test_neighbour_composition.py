"""NeighbourComposition: base queries composed with a touching neighbour,
and an SCM trained with them that learns to leave the neighbour out."""
import pytest
import torch
from _scm_training import object_queries, train_scm
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures.bbox import bbox_overlaps
from mmengine.structures import InstanceData

from mmdet_csod.models.scm import NeighbourComposition

pytestmark = pytest.mark.usefixtures('one_thread')


def _query(box, score=1.0, n=3):
    """A query's selection: ``box`` and smaller copies inside it."""
    box = torch.tensor(box, dtype=torch.float)
    inner = torch.stack([box, box + torch.tensor([2., 2, -2, -2]),
                         box + torch.tensor([4., 4, -4, -4])])[:n]
    scores = torch.tensor([score, score * 0.8, score * 0.6])[:n]
    return InstanceData(bboxes=inner, scores=scores)


def test_offsets_put_the_partner_against_the_object():
    torch.manual_seed(0)
    objects = torch.tensor([[100., 100, 160, 140]]).repeat(200, 1)
    partners = torch.tensor([[10., 20, 50, 100]]).repeat(200, 1)
    touch = NeighbourComposition(overlap=(0., 0.))
    moved = partners + touch.offsets(objects, partners).repeat(1, 2)
    assert torch.allclose(moved[:, 2:] - moved[:, :2],
                          partners[:, 2:] - partners[:, :2])
    # touching: no overlap, one shared edge, centre across within the object
    assert bbox_overlaps(moved, objects, is_aligned=True).max() < 1e-6
    shared = (moved[:, 2] == objects[:, 0]) | (moved[:, 0] == objects[:, 2]) \
        | (moved[:, 3] == objects[:, 1]) | (moved[:, 1] == objects[:, 3])
    assert shared.all()
    centre = (moved[:, :2] + moved[:, 2:]) / 2
    horizontal = (moved[:, 2] == objects[:, 0]) | \
        (moved[:, 0] == objects[:, 2])
    assert ((centre[horizontal, 1] >= 100) &
            (centre[horizontal, 1] <= 140)).all()
    assert ((centre[~horizontal, 0] >= 100) &
            (centre[~horizontal, 0] <= 160)).all()
    assert 0 < horizontal.sum() < 200  # all four sides are drawn
    # half overlapping: half the partner's extent along the axis is inside
    half = NeighbourComposition(overlap=(0.5, 0.5))
    moved = partners + half.offsets(objects, partners).repeat(1, 2)
    pw, ph = (partners[0, 2:] - partners[0, :2]).tolist()
    close = torch.isclose
    left = close(moved[:, 2], objects[:, 0] + pw / 2)
    right = close(moved[:, 0], objects[:, 2] - pw / 2)
    top = close(moved[:, 3], objects[:, 1] + ph / 2)
    bottom = close(moved[:, 1], objects[:, 3] - ph / 2)
    assert (left | right | top | bottom).all()


def test_composed_queries_keep_their_targets_and_scale_the_neighbour():
    torch.manual_seed(0)
    comp = TASK_UTILS.build(
        dict(type='NeighbourComposition', prob=1., weight=(0.5, 0.5)))
    queries = torch.tensor([[0, 1], [1, 3], [1, 4]])
    selected = [_query([10, 10, 40, 40], 0.9), _query([50, 60, 90, 120], 0.3),
                InstanceData(bboxes=torch.zeros(0, 4), scores=torch.zeros(0))]
    targets = [torch.tensor([[12., 10, 40, 42]]),
               torch.tensor([[50., 60, 92, 118]]),
               torch.tensor([[0., 0, 9, 9]])]
    shapes = [(100, 120), (160, 200)]
    q2, sel2, tgt2 = comp(queries, selected, targets, shapes)
    # the query without boxes is not composed; the two others are, each
    # other's partner
    assert q2.tolist() == [[0, 1], [1, 3], [1, 4], [0, 1], [1, 3]]
    assert torch.equal(tgt2[3], targets[0]) and torch.equal(tgt2[4],
                                                            targets[1])
    assert sel2[:3] == selected
    for new, own, other, (h, w) in ((sel2[3], selected[0], selected[1],
                                     shapes[0]),
                                    (sel2[4], selected[1], selected[0],
                                     shapes[1])):
        assert len(new) == len(own) + len(other)
        assert (new.scores[:-1] >= new.scores[1:]).all()  # still ranked
        # the neighbour's top score is half the query's
        theirs = new.scores[~torch.isin(new.scores, own.scores)]
        assert torch.isclose(theirs.max(), 0.5 * own.scores[0])
        assert (new.bboxes[:, 2] <= w).all() and (new.bboxes[:, 3] <= h).all()
        assert (new.bboxes >= 0).all()
        # the neighbour's object touches or overlaps the query's
        moved_top = new.bboxes[new.scores == theirs.max()]
        gap_x = torch.maximum(moved_top[:, 0] - own.bboxes[0, 2],
                              own.bboxes[0, 0] - moved_top[:, 2])
        gap_y = torch.maximum(moved_top[:, 1] - own.bboxes[0, 3],
                              own.bboxes[0, 1] - moved_top[:, 3])
        assert (torch.maximum(gap_x, gap_y) <= 6).all()


def test_no_composition_without_two_usable_queries():
    comp = NeighbourComposition(prob=1.)
    queries = torch.tensor([[0, 1]])
    selected = [_query([10, 10, 40, 40])]
    targets = [torch.tensor([[10., 10, 40, 40]])]
    q2, sel2, tgt2 = comp(queries, selected, targets, [(100, 100)])
    assert torch.equal(q2, queries) and sel2 == selected and tgt2 == targets
    q2, _, _ = NeighbourComposition(prob=0.)(
        torch.tensor([[0, 1], [0, 2]]), selected * 2, targets * 2,
        [(100, 100)])
    assert len(q2) == 2
    with pytest.raises(ValueError, match='weight'):
        NeighbourComposition(weight=(0.8, 0.2))
    with pytest.raises(ValueError, match='prob'):
        NeighbourComposition(prob=2)


def test_scm_rejects_composition_with_feature_inputs():
    with pytest.raises(ValueError, match='train_composition'):
        MODELS.build(
            dict(type='SpatialCorrelationModule',
                 inputs=dict(type='HeatmapFeatureInputs', feat_channels=8),
                 train_composition=dict(type='NeighbourComposition')))


def _free_standing(gen, n_img):
    """Base-like queries: confident boxes on the object and on its parts,
    no neighbour (as where base objects seldom touch another)."""
    return object_queries(gen, n_img, (60, 120))


def _with_neighbour(gen, n_img):
    """Novel-like queries: the object's confident boxes and weaker ones on
    an object of the same size that touches it from the right."""
    props, scores, queries, targets, shapes = _free_standing(gen, n_img)
    for i, gt in enumerate(targets):
        width = float(gt[0, 2] - gt[0, 0])
        other = props[i] + torch.tensor([width, 0., width, 0.])
        props[i] = torch.cat([props[i], other.clamp(0, 384)])
        scores[i] = torch.cat([scores[i], 0.5 * scores[i]])
    return props, scores, queries, targets, shapes


def _train_scm(composition, steps=400):
    scm = train_scm(composition, lambda gen: _free_standing(gen, 4), steps)
    props, scores, queries, targets, shapes = _with_neighbour(
        torch.Generator().manual_seed(1), 16)
    out = scm.predict(props, scores, queries, shapes)
    return torch.stack([bbox_overlaps(out.bboxes[i:i + 1], targets[i])[0, 0]
                        for i in range(16)])


def test_scm_trained_with_neighbours_leaves_the_neighbour_out():
    """Learnt from free-standing objects only, the SCM boxes an object and
    the weaker neighbour touching it as one; with composed neighbours it
    boxes the object."""
    without = _train_scm(None)
    with_neighbours = _train_scm(dict(type='NeighbourComposition'))
    # measured: 0.70 against 0.82 (seeds 1 and 2 of the same test: 0.67 /
    # 0.78 and 0.72 / 0.86)
    assert without.mean() < 0.75, without
    assert with_neighbours.mean() > without.mean() + 0.07, (
        with_neighbours, without)
    assert with_neighbours.mean() > 0.75, with_neighbours
