"""Self-training (``DRN(det_pseudo_boxes=True)``): while switched on, the
novel classes' pseudo boxes are the detection head's own detections, a
class it does not detect keeps the SCM's box; ``PseudoGTSwitchHook``'s
``det_start_epoch`` switches it by epoch."""
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT, model_and_batch

from mmdet_csod.engine.hooks import PseudoGTSwitchHook

DET = osp.join(REPO_ROOT, 'configs', 'csod', 'ablations',
               'drn-plus_tiny_synthetic_det-pseudo.py')

pytestmark = pytest.mark.usefixtures('one_thread')


def _stages(model, batch):
    data = model.data_preprocessor(batch, False)
    return data, model.predict_stages(data['inputs'], data['data_samples'],
                                      rescale=False)


def test_pseudo_boxes_are_the_detection_heads_own(synthetic_root):
    model, batch = model_and_batch(DET, synthetic_root)
    model.eval()
    # a detection head that scores one proposal per image far above the
    # rest for every class, and regresses nothing
    head = model.roi_head.bbox_head
    with torch.no_grad():
        head.fc_reg.weight.zero_()
        head.fc_reg.bias.zero_()
    data, plain = _stages(model, batch)
    assert model.det_pseudo_enabled  # True when built
    samples = data['data_samples']
    x = model.extract_feat(data['inputs'])
    rec = model.rec_head.forward_rois(x, model.proposals_for_test(x, samples))
    pick = [len(p) // 3 for p in rec.proposals]
    keep = torch.cat([
        torch.arange(len(p)) == k for p, k in zip(rec.proposals, pick)
    ])
    orig = head.forward

    def forward(feats):
        cls, reg = orig(feats)
        cls = torch.where(keep[:, None], torch.full_like(cls, 10.),
                          torch.full_like(cls, -10.))
        cls[:, -1] = torch.where(keep, -10., 10.)  # background elsewhere
        return cls, reg

    head.forward = forward
    try:
        _, outs = _stages(model, batch)
        model.det_pseudo_enabled = False
        _, scm_outs = _stages(model, batch)
    finally:
        head.forward = orig
    for out, scm_out, p, k, sample in zip(outs, scm_outs, rec.proposals,
                                          pick, samples):
        novel = [g for g in model.novel_labels if sample.image_labels[g] > 0]
        assert sorted(out['pseudo'].labels.tolist()) == novel
        # every novel class present: the head's one box, not the SCM's
        assert torch.allclose(out['pseudo'].bboxes,
                              p[k].expand(len(novel), 4), atol=1e-3)
        assert not out['pseudo'].from_fallback.any()
        # switched off: the SCM's boxes, as without the switch
        assert sorted(set(scm_out['pseudo'].labels.tolist())) == novel
        assert not torch.allclose(scm_out['pseudo'].bboxes[:1], p[k][None])
    # a detection head that detects nothing: the SCM's boxes
    head.forward = lambda feats: (torch.cat([
        torch.full((len(feats), model.num_classes), -10.),
        torch.full((len(feats), 1), 10.)
    ], dim=1), orig(feats)[1])
    try:
        model.det_pseudo_enabled = True
        _, none_outs = _stages(model, batch)
    finally:
        head.forward = orig
    for a, b in zip(none_outs, plain):
        assert torch.equal(a['pseudo'].bboxes, b['pseudo'].bboxes)
        assert torch.equal(a['pseudo'].labels, b['pseudo'].labels)


def test_training_step_with_the_switch(synthetic_root):
    model, batch = model_and_batch(DET, synthetic_root)
    model.train()
    data = model.data_preprocessor(batch, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    total = sum(v for k, v in losses.items() if 'loss' in k and
                isinstance(v, torch.Tensor))
    assert torch.isfinite(total)
    total.backward()


class _Runner:

    def __init__(self, model, epoch):
        self.model, self.epoch, self.iter = model, epoch, 0

        class _Log:

            def info(self, msg):
                pass

        self.logger = _Log()


def test_hook_switches_by_epoch():
    model = torch.nn.Module()
    model.pseudo_gt_enabled = True
    model.det_pseudo_enabled = True
    hook = PseudoGTSwitchHook(start_epoch=1, det_start_epoch=2)
    seen = []
    for epoch in range(4):
        hook.before_train_epoch(_Runner(model, epoch))
        seen.append((model.pseudo_gt_enabled, model.det_pseudo_enabled))
    assert seen == [(False, False), (True, False), (True, True),
                    (True, True)]
    other = torch.nn.Module()
    other.pseudo_gt_enabled = True  # a model without the second switch
    with pytest.raises(TypeError, match='det_pseudo_enabled'):
        PseudoGTSwitchHook(start_epoch=0,
                           det_start_epoch=1).before_train_epoch(
                               _Runner(other, 0))
