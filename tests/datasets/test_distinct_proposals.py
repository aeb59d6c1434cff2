"""The first distinct proposals: near-duplicates dropped in file order before
``num_max_proposals`` are kept (dataset ``proposal_nms_iou``,
``proposal_cfg.nms_iou``)."""
import os.path as osp

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT
from mmdet.registry import DATASETS, TRANSFORMS
from mmengine.config import Config

from mmdet_csod.datasets import clean_proposals
from mmdet_csod.datasets.proposals import distinct_in_order
from mmdet_csod.datasets.transforms.loading import (check_proposal_cfg,
                                                    compute_proposals)

SYNTHETIC = osp.join(REPO_ROOT, 'configs/_base_/datasets/synthetic_csod.py')
DISTINCT = osp.join(
    REPO_ROOT,
    'configs/csod/ablations/drn-plus_tiny_synthetic_distinct-proposals.py')

# rows 1 and 3 overlap row 0 at IoU 0.9 and 0.64 (row 3 overlaps row 1 at
# 0.71); row 4 overlaps row 2 at 0.9; row 5 stands alone
BOXES = np.array([[0, 0, 10, 10], [0, 0, 10, 9], [20, 20, 30, 30],
                  [0, 0, 8, 8], [20, 20, 29, 30], [40, 0, 50, 10]],
                 np.float32)


def _iou(a, b):
    w = max(0., min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0., min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return w * h / (area - w * h)


def test_the_earlier_of_two_near_duplicates_stays():
    assert _iou(BOXES[0], BOXES[1]) == pytest.approx(0.9)
    assert _iou(BOXES[0], BOXES[3]) == pytest.approx(0.64)
    np.testing.assert_array_equal(distinct_in_order(BOXES, 0.7), [0, 2, 3, 5])
    np.testing.assert_array_equal(distinct_in_order(BOXES, 0.5), [0, 2, 5])
    # the order decides, not the size: reversed, the later rows stay
    kept = distinct_in_order(BOXES[::-1].copy(), 0.7)
    np.testing.assert_array_equal(kept, [0, 1, 2, 5])
    np.testing.assert_array_equal(distinct_in_order(BOXES, 1), np.arange(6))
    assert len(distinct_in_order(BOXES[:0], 0.7)) == 0


def test_near_duplicates_go_before_the_first_max_num_are_kept():
    scores = np.arange(6, dtype=np.float32)
    plain, _, stats = clean_proposals(BOXES, scores, max_num=3)
    np.testing.assert_array_equal(plain, BOXES[:3])
    assert (stats.near_duplicate, stats.truncated) == (0, 3)
    boxes, kept_scores, stats = clean_proposals(
        BOXES, scores, max_num=3, nms_iou=0.7)
    # rows 1 and 4 are near-duplicates: row 3 comes into the first three
    np.testing.assert_array_equal(boxes, BOXES[[0, 2, 3]])
    np.testing.assert_array_equal(kept_scores, [0, 2, 3])
    assert (stats.near_duplicate, stats.truncated) == (2, 1)


@pytest.mark.parametrize('bad', [0, 1.5, -0.1, True, '0.7'])
def test_a_bad_threshold_is_refused_by_name(tiny_coco, bad):
    with pytest.raises(ValueError, match='nms_iou'):
        clean_proposals(BOXES, np.zeros(6), nms_iou=bad)
    with pytest.raises(ValueError, match='proposal_cfg.nms_iou'):
        check_proposal_cfg(dict(nms_iou=bad))
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])], proposals=BOXES)
    with pytest.raises(ValueError, match='proposal_nms_iou'):
        tiny_coco.write().dataset(proposal_nms_iou=bad)


def test_dataset_keeps_the_first_distinct_proposals(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])], proposals=BOXES)
    tiny_coco.add_image('b.jpg', [('dog', [2, 3, 20, 10])],
                        proposals=BOXES[::-1].copy())
    ds = tiny_coco.write().dataset(num_max_proposals=3, proposal_nms_iou=0.7)
    np.testing.assert_array_equal(
        ds.get_data_info(0)['proposals']['bboxes'], BOXES[[0, 2, 3]])
    np.testing.assert_array_equal(
        ds.get_data_info(1)['proposals']['bboxes'], BOXES[[5, 4, 3]])
    stats = ds.load_report['proposals']
    assert (stats.near_duplicate, stats.truncated) == (4, 2)
    # without it the file's first three, near-duplicates included
    plain = tiny_coco.dataset(num_max_proposals=3)
    np.testing.assert_array_equal(
        plain.get_data_info(0)['proposals']['bboxes'], BOXES[:3])
    assert plain.load_report['proposals'].near_duplicate == 0


def test_computed_proposals_drop_the_same_near_duplicates(synthetic_root):
    """An image without proposals (DetInferencer) gets what the dataset
    reads for it from the file: the config's proposal_cfg.nms_iou is its
    proposal_nms_iou, and the file's boxes hold near-duplicates."""
    base = Config.fromfile(SYNTHETIC)
    assert base.proposal_nms_iou is None  # kept by default (README)
    cfg = Config.fromfile(DISTINCT)
    assert cfg.proposal_nms_iou == 0.7
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.proposal_nms_iou == cfg.proposal_nms_iou
    step = cfg.test_dataloader.dataset.pipeline[1]
    assert step.type == 'LoadOrComputeProposals'
    assert step.proposal_cfg.nms_iou == cfg.proposal_nms_iou
    ds_cfg = cfg.val_dataloader.dataset
    ds_cfg.data_root = synthetic_root
    ds_cfg.pipeline = []
    ds = DATASETS.build(ds_cfg)
    raw = DATASETS.build(dict(ds_cfg, proposal_nms_iou=None))
    transform = TRANSFORMS.build(step)
    for i in range(2):
        info = ds.get_data_info(i)
        stored = info['proposals']['bboxes']
        assert len(distinct_in_order(stored, 0.7)) == len(stored)
        as_stored = raw.get_data_info(i)['proposals']['bboxes']
        assert len(distinct_in_order(as_stored, 0.7)) < len(as_stored)
        img = cv2.imread(info['img_path'])
        computed = compute_proposals(img, step.proposal_cfg)
        np.testing.assert_array_equal(computed, stored)
        out = transform(dict(img=img, img_path=info['img_path']))
        np.testing.assert_array_equal(out['proposals'], stored)
