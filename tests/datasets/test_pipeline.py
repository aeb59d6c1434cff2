"""The configs' pipelines: proposals move with the image, packing."""
import numpy as np
import pytest
import torch
from conftest import CLASSES
from mmdet.registry import TRANSFORMS
from mmengine.dataset import Compose


def _pipeline(scale, flip_prob):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadProposals', num_max_proposals=None),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(
            type='ProposalBroadcaster',
            transforms=[
                dict(type='Resize', scale=scale, keep_ratio=True),
                dict(type='RandomFlip', prob=flip_prob)
            ]),
        dict(type='PackCSODInputs', require_proposals=True),
    ]


@pytest.mark.parametrize('flip', [0.0, 1.0])
def test_resize_and_flip_move_proposals_with_the_image(tiny_coco, flip):
    props = np.array([[0, 0, 40, 30], [10, 20, 70, 50]], np.float32)
    tiny_coco.add_image(
        'a.jpg', [('cat', [10, 20, 60, 30])], h=60, w=80, proposals=props)
    ds = tiny_coco.write().dataset(pipeline=_pipeline((1000, 120), flip))
    sample = ds[0]
    ds_ = sample['data_samples']
    assert tuple(sample['inputs'].shape) == (3, 120, 160)  # scale 2
    expect = props * 2
    gt = np.array([[10, 20, 70, 50]], np.float32) * 2
    if flip:
        expect[:, [0, 2]] = 160 - expect[:, [2, 0]]
        gt[:, [0, 2]] = 160 - gt[:, [2, 0]]
    np.testing.assert_allclose(ds_.proposals.bboxes.numpy(), expect)
    np.testing.assert_allclose(ds_.gt_instances.bboxes.numpy(), gt)
    assert ds_.proposals.bboxes.dtype == torch.float32
    assert ds_.proposals.scores.shape == (2, )
    assert ds_.flip == bool(flip)


def test_packed_sample_has_image_labels_and_no_novel_box(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10]),
                                  ('person', [30, 5, 40, 40])])
    ds = tiny_coco.write().dataset(pipeline=_pipeline((1000, 60), 0.5))
    ds_ = ds[0]['data_samples']
    assert ds_.image_labels.dtype == torch.float32
    assert ds_.image_labels.tolist() == [1, 0, 0, 1]
    assert len(ds_.image_labels) == len(CLASSES)
    assert ds_.gt_instances.labels.tolist() == [0]
    assert len(ds_.ignored_instances) == 0


def test_pack_requires_image_labels():
    pack = TRANSFORMS.build(dict(type='PackCSODInputs'))
    with pytest.raises(KeyError, match='x.jpg.*image_labels'):
        pack(dict(img=np.zeros((4, 4, 3), np.uint8), img_path='x.jpg'))
    pack = TRANSFORMS.build(
        dict(
            type='PackCSODInputs',
            require_image_labels=False,
            require_proposals=True))
    with pytest.raises(KeyError, match='x.jpg.*no proposals'):
        pack(dict(img=np.zeros((4, 4, 3), np.uint8), img_path='x.jpg'))


def test_compose_from_synthetic_config_is_buildable():
    from mmengine.config import Config
    cfg = Config.fromfile('configs/_base_/datasets/synthetic_csod.py')
    Compose(cfg.train_pipeline)
    Compose(cfg.test_pipeline)
