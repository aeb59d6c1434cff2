"""The objectness head (``DRN(objectness_head=...)``): its targets never
take a place that may hold an unboxed novel object as a negative, its loss
trains, and the DRN makes the SCM's and the pseudo boxes' scores from the
recognition scores weighed by it, in training and in ``predict_stages``."""
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT, model_and_batch

from mmdet_csod.models.bbox_heads import ObjectnessHead

OBJ = osp.join(REPO_ROOT, 'configs', 'csod', 'ablations',
               'drn-plus_tiny_synthetic_objectness.py')

pytestmark = pytest.mark.usefixtures('one_thread')

GT = torch.tensor([[10., 10., 50., 50.]])
PROPS = torch.tensor([
    [10., 10., 50., 50.],  # the object: positive
    [12., 10., 52., 48.],  # nearly the object: positive
    [20., 20., 35., 35.],  # a part of it (inside, IoU 0.14)
    [30., 10., 90., 50.],  # half on it, half beside (IoU 0.25)
    [60., 60., 90., 90.],  # away from every box
])


def test_targets_take_negatives_only_where_no_novel_object_can_be():
    head = ObjectnessHead(in_channels=8)
    # an image with a novel class: the part is a negative, the rest of the
    # image may be the novel object and is ignored
    labels, kind = head.get_targets([PROPS], [GT], [False])
    assert kind.tolist() == [1, 1, 0, -1, -1]
    assert labels.tolist() == [1., 1., 0., 0., 0.]
    # every object boxed: everything off the boxes is a negative
    _, kind = head.get_targets([PROPS], [GT], [True])
    assert kind.tolist() == [1, 1, 0, 0, 0]
    # without part negatives the part is ignored where a novel class is
    no_parts = ObjectnessHead(in_channels=8, part_negatives=False)
    _, kind = no_parts.get_targets([PROPS], [GT], [False])
    assert kind.tolist() == [1, 1, -1, -1, -1]
    # an image without base boxes: negatives only when all is boxed
    _, kind = head.get_targets([PROPS], [GT[:0]], [False])
    assert kind.tolist() == [-1] * 5
    _, kind = head.get_targets([PROPS, PROPS], [GT[:0], GT], [True, False])
    assert kind.tolist() == [0] * 5 + [1, 1, 0, -1, -1]


def test_thresholds_are_checked():
    with pytest.raises(ValueError, match='neg_iou_thr'):
        ObjectnessHead(in_channels=8, pos_iou_thr=0.4, neg_iou_thr=0.5)


def test_loss_weighs_positives_and_negatives_alike_and_learns():
    torch.manual_seed(0)
    head = ObjectnessHead(in_channels=4)
    head.init_weights()
    # features that tell the object from the rest
    feats = torch.tensor([[1., 0, 0, 0], [1., 0, 0, 0], [0, 1., 0, 0],
                          [0, 0, 1., 0], [0, 0, 0, 1.]])
    opt = torch.optim.SGD(head.parameters(), lr=1.0)
    first = None
    for _ in range(50):
        losses = head.loss(head(feats), [PROPS], [GT], [True])
        opt.zero_grad()
        losses['loss_obj'].backward()
        opt.step()
        first = first if first is not None else losses['loss_obj'].item()
    assert losses['obj_pos'].item() == 2 and losses['obj_neg'].item() == 3
    # two means of log(2) at the start
    assert first == pytest.approx(2 * torch.log(torch.tensor(2.)).item(),
                                  abs=0.05)
    assert losses['loss_obj'].item() < 0.1
    obj = head.scores(head(feats))
    assert obj[:2].min() > 0.9 and obj[2:].max() < 0.1
    # ignored proposals add nothing: only part negatives, the rest free
    losses = head.loss(head(feats), [PROPS], [GT], [False])
    assert losses['obj_neg'].item() == 1
    # no target at all: a zero loss that still backpropagates
    empty = head.loss(head(feats), [PROPS], [GT[:0]], [False])
    assert empty['loss_obj'].item() == 0
    empty['loss_obj'].backward()


def test_weigh_multiplies_each_proposal_row():
    scores = [torch.ones(2, 3), torch.full((3, 3), 2.)]
    obj = torch.tensor([0.5, 1., 0., 0.25, 1.])
    out = ObjectnessHead.weigh(scores, obj)
    assert out[0].tolist() == [[0.5] * 3, [1.] * 3]
    assert out[1].tolist() == [[0.] * 3, [0.5] * 3, [2.] * 3]


def test_drn_trains_the_head_and_weighs_the_pseudo_boxes_scores(
        synthetic_root):
    """The obj_ loss backpropagates into the head and the shared layers;
    ``predict_stages``'s SCM and pseudo boxes are those of the weighed
    scores, its ``rec`` boxes the recognition head's own."""
    model, batch = model_and_batch(OBJ, synthetic_root)
    # every proposal may be selected (none zeroed on base boxes)
    model.pseudo_off_base_boxes = False
    model.train()
    data = model.data_preprocessor(batch, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert 'obj_loss_obj' in losses and losses['obj_obj_pos'] > 0
    losses['obj_loss_obj'].backward()
    assert model.objectness_head.fc_obj.weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.rec_head.shared_fcs.parameters())

    # an objectness that is 0 on every proposal but one per image: the
    # SCM's and the pseudo boxes' selection sees only that one
    model.eval()
    data = model.data_preprocessor(batch, False)
    samples = data['data_samples']
    x = model.extract_feat(data['inputs'])
    rpn = model.proposals_for_test(x, samples)
    rec = model.rec_head.forward_rois(x, rpn)
    keep = torch.cat([
        torch.arange(len(p)) == len(p) // 2 for p in rec.proposals
    ])
    with torch.no_grad():
        model.objectness_head.fc_obj.weight.zero_()
        model.objectness_head.fc_obj.bias.fill_(-1e4)
    logits = model.objectness_logits(rec.feats)
    weighed = model.weigh_by_objectness(
        [s.detach() for s in rec.scores],
        torch.where(keep, torch.full_like(logits, 1e4), logits))
    for w, p, k in zip(weighed, rec.proposals, keep.split(
            [len(p) for p in rec.proposals])):
        assert (w[~k] == 0).all()
    # the stages with that objectness, through the head's forward (the
    # public entry the DRN calls): every SCM heatmap, base and novel
    # queries alike, is painted from that one proposal
    head = model.objectness_head
    orig = head.forward
    head.forward = lambda feats: torch.where(
        keep, torch.full((len(feats), ), 1e4),
        torch.full((len(feats), ), -1e4))
    try:
        outs = model.predict_stages(data['inputs'], samples, rescale=False,
                                    with_heatmaps=True)
    finally:
        head.forward = orig
    stride = model.scm.heatmap_stride
    for out, p, k in zip(outs, rec.proposals,
                         keep.split([len(p) for p in rec.proposals])):
        x1, y1, x2, y2 = (p[k][0] / stride).tolist()
        maps = out['heatmaps']
        assert len(maps) == len(out['scm']) > 0
        ys, xs = torch.nonzero(maps.amax(dim=(0, 1)) > 0, as_tuple=True)
        assert len(ys)
        assert xs.min() >= x1 - 1 and xs.max() <= x2 + 1
        assert ys.min() >= y1 - 1 and ys.max() <= y2 + 1
        # the recognition head's own top boxes are not restricted
        assert len(out['rec']) == len(out['scm'])
