"""The DRN's detection head (SharedFeatureRoIHead) on images of a partial
source: a class unknown in an image (``image_label_weights`` 0) is merged
into background by the classification loss, so a proposal sampled as
background there is not taught that it is no object of that class."""
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT, use_data_root
from mmdet.registry import DATASETS, MODELS
from mmdet.structures.bbox import get_box_tensor
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import set_random_seed
from mmengine.structures import InstanceData

CONFIG = osp.join(REPO_ROOT, 'configs', 'csod', 'drn_tiny_synthetic.py')
NOVEL = [5, 6, 7, 8, 9]


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def head_and_batch(synthetic_root):
    cfg = Config.fromfile(CONFIG)
    use_data_root(cfg, synthetic_root)
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    set_random_seed(0)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    data = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), True)
    x = model.extract_feat(data['inputs'])
    x = tuple(t.detach() for t in x)
    return model.roi_head, x, data['data_samples']


def _run(head, x, samples, weights, monkeypatch):
    """The head's loss, with the sampled rows' logits and targets."""
    seen = {}
    bbox_loss = head.bbox_loss

    def recording(x, sampling_results, sampled_feats=None,
                  image_label_weights=None):
        out = bbox_loss(x, sampling_results, sampled_feats,
                        image_label_weights)
        out['cls_score'].retain_grad()
        seen.update(out, sampling_results=sampling_results)
        return out

    monkeypatch.setattr(head, 'bbox_loss', recording)
    props = [
        InstanceData(bboxes=get_box_tensor(s.proposals.bboxes))
        for s in samples
    ]
    torch.manual_seed(0)  # the same sampled RoIs every run
    losses = head.loss(x, props, samples, image_label_weights=weights)
    labels = head.bbox_head.get_targets(seen['sampling_results'],
                                        head.train_cfg)[0]
    rois_img = torch.cat([
        torch.full((len(r.priors), ), i)
        for i, r in enumerate(seen['sampling_results'])
    ])
    return losses, seen['cls_score'], labels, rois_img


def test_unknown_classes_are_merged_into_background(head_and_batch,
                                                    monkeypatch):
    head, x, samples = head_and_batch
    num_classes = head.bbox_head.num_classes
    plain, logits, labels, img = _run(head, x, samples, None, monkeypatch)
    ones, *_ = _run(head, x, samples, torch.ones(2, num_classes),
                    monkeypatch)
    for k in plain:
        torch.testing.assert_close(ones[k], plain[k], rtol=0, atol=0)
    # the bug this fixes: without weights a background RoI of an image that
    # may show a novel object pushes that class down
    plain['loss_cls'].backward()
    grad = logits.grad
    bg = labels == num_classes
    assert bg.any() and (~bg).any()
    assert (grad[bg][:, NOVEL] > 0).all()

    # novel classes unknown in image 0 (a box-source image), base classes
    # unknown in image 1 (a tagged one)
    weights = torch.ones(2, num_classes)
    weights[0, NOVEL] = 0
    weights[1, :5] = 0
    losses, logits, labels, img = _run(head, x, samples, weights,
                                       monkeypatch)
    # a class with a box in the image is known there (its box's target)
    boxed = samples[1].gt_instances.labels
    assert len(boxed) and (boxed < 5).all()
    known = weights.clone()
    known[1, boxed] = 1
    assert (known[1, :5] == 0).any()
    unknown = (known == 0)[img]
    p = logits.detach().softmax(1)
    target = p.gather(1, labels[:, None]).squeeze(1)
    target = torch.where(labels == num_classes,
                         target + (p[:, :-1] * unknown).sum(1), target)
    torch.testing.assert_close(losses['loss_cls'], -target.log().mean())
    torch.testing.assert_close(losses['loss_bbox'], plain['loss_bbox'])
    assert not torch.allclose(losses['loss_cls'], plain['loss_cls'])
    losses['loss_cls'].backward()
    grad = logits.grad
    assert torch.isfinite(grad).all()
    bg = labels == num_classes
    rows = bg & (img == 0)
    # a background RoI of image 0: novel columns up with the background,
    # in proportion (no preference between them); base ones down
    torch.testing.assert_close(grad[rows][:, NOVEL] / grad[rows][:, -1:],
                               p[rows][:, NOVEL] / p[rows][:, -1:])
    assert (grad[rows][:, NOVEL] < 0).all()
    assert (grad[rows][:, :5] > 0).all()
    # in image 1 an unboxed base class likewise, a boxed one is pushed down
    rows = bg & (img == 1)
    free = [c for c in range(5) if known[1, c] == 0]
    assert (grad[rows][:, free] < 0).all()
    assert (grad[rows][:, boxed.unique()] > 0).all()
    # a positive keeps its ordinary target: every other class pushed down
    pos = ~bg
    assert (grad[pos].gather(1, labels[pos][:, None]) < 0).all()
    assert (grad[pos][:, NOVEL] >= 0).all()


def test_weights_must_match_the_batch(head_and_batch):
    head, x, samples = head_and_batch
    props = [InstanceData(bboxes=get_box_tensor(s.proposals.bboxes))
             for s in samples]
    with pytest.raises(ValueError, match='image_label_weights'):
        head.loss(x, props, samples, image_label_weights=torch.ones(2, 3))
