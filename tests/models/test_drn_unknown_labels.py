"""A DRN (and a WSOD) training step on tagged data whose unlabeled classes
are unknown: the unknown class is no target and no negative (its MIL term
dropped, merged into background by the refinement and detection losses),
the SCM and the box regression learn as before."""
import json
import os.path as osp
import shutil

import numpy as np
import torch
from conftest import REPO_ROOT, use_data_root
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import set_random_seed

NUM = 4  # images in the batch
CONFIG = osp.join(REPO_ROOT, 'configs/csod/drn_tiny_synthetic.py')
CLASSES = Config.fromfile(CONFIG).metainfo.classes


def _step(root, tagged, config=CONFIG):
    cfg = Config.fromfile(config)
    use_data_root(cfg, root)
    if tagged:
        cfg.train_dataloader.dataset.unlabeled = 'ignore'
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    set_random_seed(0)  # the pipeline's random resize and flip
    batch = pseudo_collate([ds[i] for i in range(NUM)])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    if hasattr(model, 'pseudo_gt_enabled'):
        model.pseudo_gt_enabled = True
    data = model.data_preprocessor(batch, True)
    torch.manual_seed(1)  # dropout and the detection head's sampling
    losses = model(**data, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    return model, data['data_samples'], losses


def _tag(src, dst, unknown):
    """A copy of the generated set whose training images list every class
    they do not show as verified absent, except ``unknown``."""
    shutil.copytree(src, dst)
    path = osp.join(dst, 'annotations', 'train.json')
    with open(path) as f:
        data = json.load(f)
    shown = {img['id']: set() for img in data['images']}
    for ann in data['annotations']:
        shown[ann['image_id']].add(ann['category_id'])
    ids = [c['id'] for c in data['categories']]
    for img in data['images']:
        img['negative_labels'] = [
            c for c in ids if c not in shown[img['id']] and c != unknown
        ]
    with open(path, 'w') as f:
        json.dump(data, f)


def test_drn_step_with_an_unknown_class(synthetic_root, tmp_path):
    plain, samples, plain_losses = _step(synthetic_root, tagged=False)
    present = torch.stack([s.image_labels for s in samples])
    absent = np.flatnonzero((present == 0).all(0).numpy())
    assert len(absent), 'some class is absent from the whole batch'
    u = int(absent[0])
    assert plain.rec_label_map[u] == u  # rec_classes='all'
    with open(osp.join(synthetic_root, 'annotations', 'train.json')) as f:
        cat_ids = {c['name']: c['id'] for c in json.load(f)['categories']}
    root = str(tmp_path / 'tagged') + '/'
    _tag(synthetic_root, root, cat_ids[CLASSES[u]])

    model, samples, losses = _step(root, tagged=True)
    weights = torch.stack([s.image_label_weights for s in samples])
    expect = torch.ones_like(weights)
    expect[:, u] = 0
    assert torch.equal(weights, expect)
    head = model.rec_head.bbox_head
    # without the mask the class is a negative of every image: a gradient
    for fc in (plain.rec_head.bbox_head.fc_cls,
               plain.rec_head.bbox_head.fc_det):
        assert fc.weight.grad[u].abs().sum() > 0
    # with it, none in its WSDDN detection stream (its image score is in no
    # loss); its class logits still compete in the class softmax, and the
    # refinement pushes it down on proposals of the known classes
    assert (head.fc_det.weight.grad[u] == 0).all()
    assert head.fc_cls.weight.grad[u].abs().sum() > 0
    for fc in head.fc_refine:
        assert fc.weight.grad[u].abs().sum() > 0
    assert model.backbone.stages[0][0].conv.weight.grad.abs().sum() > 0
    # the recognition losses and the detection head's classification loss
    # change (a background RoI may be the unknown class); the SCM's and the
    # box regression do not
    assert losses.keys() == plain_losses.keys()
    for k in losses:
        if k.startswith('rec_loss') or k == 'det_loss_cls':
            assert not torch.allclose(losses[k], plain_losses[k]), k
        elif k.startswith('scm_loss') or k == 'det_loss_bbox':
            torch.testing.assert_close(losses[k], plain_losses[k])


def test_wsod_step_with_an_unknown_class(synthetic_root, tmp_path):
    """WeakRCNN reads the weights through MILRoIHead.loss."""
    config = osp.join(REPO_ROOT, 'configs/wsod/oicr_small-vgg_synthetic.py')
    _, samples, _ = _step(synthetic_root, False, config)
    present = torch.stack([s.image_labels for s in samples])
    u = int(np.flatnonzero((present == 0).all(0).numpy())[0])
    with open(osp.join(synthetic_root, 'annotations', 'train.json')) as f:
        cat_ids = {c['name']: c['id'] for c in json.load(f)['categories']}
    root = str(tmp_path / 'tagged') + '/'
    _tag(synthetic_root, root, cat_ids[CLASSES[u]])
    model, samples, losses = _step(root, True, config)
    assert all(s.image_label_weights[u] == 0 for s in samples)
    head = model.roi_head.bbox_head
    assert (head.fc_det.weight.grad[u] == 0).all()
    assert head.fc_det.weight.grad.abs().sum() > 0
