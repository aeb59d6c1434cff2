"""LoadOrComputeProposals: the dataset's proposals as mmdet loads them, or
the same Selective Search boxes computed on the fly; the configs record the
settings the data's proposals were made with."""
import copy
import glob
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from mmdet.registry import DATASETS, TRANSFORMS
from mmengine.config import Config
from mmengine.dataset import Compose

from mmdet_csod.datasets import load_proposal_file, proposal_key
from mmdet_csod.datasets.converters.ss_runner import run_selective_search
from mmdet_csod.datasets.transforms.loading import (check_proposal_cfg,
                                                    compute_proposals,
                                                    proposal_step)
from mmdet_csod.synthetic import dataset as synthetic

SYNTHETIC = osp.join(REPO_ROOT, 'configs/_base_/datasets/synthetic_csod.py')
DRN = osp.join(REPO_ROOT, 'configs/csod/drn_tiny_synthetic.py')
RPN = osp.join(REPO_ROOT, 'configs/csod/drn-rpn_tiny_synthetic.py')


def _val_set(root, pipeline=None):
    cfg = Config.fromfile(SYNTHETIC).val_dataloader.dataset
    cfg.data_root = root
    if pipeline is not None:
        cfg.pipeline = pipeline
    return DATASETS.build(cfg)


def test_loaded_proposals_are_load_proposals_output():
    rng = np.random.default_rng(0)
    props = dict(
        bboxes=rng.uniform(0, 50, (7, 4)).astype(np.float64),
        scores=rng.uniform(0, 1, 7))
    for n in (None, 3):
        ours = TRANSFORMS.build(
            dict(
                type='LoadOrComputeProposals',
                num_max_proposals=n,
                proposal_cfg=dict(max_side=10)))
        mmdet = TRANSFORMS.build(
            dict(type='LoadProposals', num_max_proposals=n))
        a = ours(dict(proposals=copy.deepcopy(props), img=None))
        b = mmdet(dict(proposals=copy.deepcopy(props)))
        for key in ('proposals', 'proposals_scores'):
            assert a[key].dtype == b[key].dtype == np.float32
            np.testing.assert_array_equal(a[key], b[key])
        assert len(a['proposals']) == (n or 7)


def test_computed_proposals_equal_the_generated_datas(synthetic_root):
    """The test pipeline of the generated data's config, an image without
    proposals: the same boxes, in the same order, as the proposal file the
    generator wrote (so proposal_cfg is the one the data was made with)."""
    ds = _val_set(synthetic_root, pipeline=[])
    step = Config.fromfile(SYNTHETIC).test_pipeline[1]
    assert step.type == 'LoadOrComputeProposals'
    transform = TRANSFORMS.build(step)
    load = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    for i in range(3):
        info = ds.get_data_info(i)
        stored = info.pop('proposals')
        out = transform(load(info))
        assert 0 < len(out['proposals']) <= step.proposal_cfg.max_boxes
        np.testing.assert_array_equal(out['proposals'], stored['bboxes'])
        np.testing.assert_array_equal(out['proposals_scores'],
                                      np.zeros(len(stored['bboxes'])))


def test_same_boxes_as_the_converter_for_the_same_settings(
        synthetic_root, tmp_path):
    """tools/dataset_converters/selective_search.py's runner and the
    transform, on the same images with settings other than the defaults."""
    paths = sorted(glob.glob(osp.join(synthetic_root, 'val', '*.jpg')))[:2]
    settings = dict(mode='single', max_side=128, min_size=4, seed=7)
    out = str(tmp_path / 'ss.npz')
    run_selective_search(paths, out, progress=False, **settings)
    written = load_proposal_file(out)
    for path in paths:
        boxes, _ = written.get(proposal_key(path))
        ours = compute_proposals(
            cv2.imread(path), dict(settings, max_boxes=None), path)
        np.testing.assert_array_equal(ours, boxes)
        # max_boxes keeps the first boxes, as num_max_proposals does
        first = compute_proposals(
            cv2.imread(path), dict(settings, max_boxes=5), path)
        np.testing.assert_array_equal(first, boxes[:5])
    # other settings give other boxes: the comparison can fail
    other = compute_proposals(
        cv2.imread(paths[0]), dict(settings, max_side=64, max_boxes=None))
    assert other.shape != written.get(proposal_key(paths[0]))[0].shape or \
        not np.array_equal(other, written.get(proposal_key(paths[0]))[0])


def test_test_pipeline_output_is_unchanged_when_proposals_exist(
        synthetic_root):
    """Dataset evaluation: the config's test pipeline packs what the previous
    one (mmdet's LoadProposals) packed."""
    new = Config.fromfile(SYNTHETIC).test_pipeline
    old = copy.deepcopy(new)
    old[1] = dict(type='LoadProposals', num_max_proposals=None)
    old[-1]['require_image_labels'] = True
    a, b = _val_set(synthetic_root, new), _val_set(synthetic_root, old)
    for i in range(2):
        x, y = a[i], b[i]
        assert (x['inputs'] == y['inputs']).all()
        sx, sy = x['data_samples'], y['data_samples']
        assert (sx.proposals.bboxes == sy.proposals.bboxes).all()
        assert torch.equal(sx.gt_instances.bboxes.tensor,
                           sy.gt_instances.bboxes.tensor)
        assert len(sx.gt_instances) > 0
        assert (sx.image_labels == sy.image_labels).all()
        assert sx.metainfo == sy.metainfo


def test_image_without_anything_but_pixels(synthetic_root):
    """An array given for inference (no img_path, no image_labels) through
    the whole test pipeline: proposals computed, resized with the image."""
    pipeline = Compose(Config.fromfile(SYNTHETIC).test_pipeline[1:])
    img = cv2.imread(osp.join(synthetic_root, 'val', '000000.jpg'))
    h, w = img.shape[:2]
    out = pipeline(
        dict(img=img, img_path=None, img_shape=(h, w), ori_shape=(h, w)))
    sample = out['data_samples']
    expect = compute_proposals(img, Config.fromfile(SYNTHETIC).proposal_cfg)
    scale = np.array(sample.scale_factor * 2, np.float32)
    np.testing.assert_allclose(
        sample.proposals.bboxes.numpy(), expect * scale, rtol=1e-5)
    assert 'image_labels' not in sample


def test_configs_record_how_the_proposals_were_made(synthetic_root):
    cfg = Config.fromfile(SYNTHETIC)
    recorded = dict(
        type='SelectiveSearch',
        mode=synthetic.SS_MODE,
        max_side=synthetic.DEFAULT_SS_MAX_SIDE,
        min_size=2,
        seed=synthetic.SS_SEED,
        max_boxes=cfg.val_dataloader.dataset.num_max_proposals,
        nms_iou=cfg.val_dataloader.dataset.proposal_nms_iou)
    assert recorded['max_side'] == 192 and recorded['max_boxes'] == 2000
    assert recorded['nms_iou'] is None
    assert check_proposal_cfg(cfg.proposal_cfg) == recorded
    with open(osp.join(synthetic_root, 'annotations', 'val.json')) as f:
        info = json.load(f)['info']
    assert (info['ss_mode'], info['ss_max_side'],
            info['ss_seed']) == (recorded['mode'], recorded['max_side'],
                                 recorded['seed'])
    for key in ('test_pipeline', 'tta_pipeline'):
        assert proposal_step(cfg[key]).proposal_cfg == cfg.proposal_cfg
    assert proposal_step(cfg.train_pipeline) is None  # training: the file's
    drn = Config.fromfile(DRN)
    assert proposal_step(
        drn.test_dataloader.dataset.pipeline).proposal_cfg == recorded
    # the RPN variant computes none, and still needs no dataset proposals
    rpn = Config.fromfile(RPN)
    for pipeline in (rpn.test_dataloader.dataset.pipeline,
                     rpn.val_dataloader.dataset.pipeline, rpn.tta_pipeline):
        assert proposal_step(pipeline).proposal_cfg is None
    step = TRANSFORMS.build(proposal_step(rpn.test_pipeline))
    out = step(dict(img=np.zeros((8, 8, 3), np.uint8)))
    assert out['proposals'].shape == (0, 4)


@pytest.mark.parametrize('cfg, match', [
    (dict(type='EdgeBoxes'), 'type must be one of'),
    (dict(mode='fastest'), 'mode must be one of'),
    (dict(max_sides=100), r"unknown key\(s\) \['max_sides'\]"),
    (dict(max_side=0), 'max_side must be a positive int'),
    (dict(max_boxes=2.5), 'max_boxes must be a positive int'),
    (dict(min_size=-1), 'min_size must be a number'),
])
def test_bad_proposal_cfg_is_an_error_naming_the_key(cfg, match):
    with pytest.raises(ValueError, match=match):
        TRANSFORMS.build(dict(type='LoadOrComputeProposals', proposal_cfg=cfg))


def test_errors_name_the_image():
    transform = TRANSFORMS.build(
        dict(type='LoadOrComputeProposals', proposal_cfg=dict()))
    with pytest.raises(ValueError, match=r'x\.png: .*colour image'):
        transform(dict(img=np.zeros((20, 20), np.uint8), img_path='x.png'))
    with pytest.raises(ValueError, match='found no box'):
        transform(dict(img=np.zeros((1, 1, 3), np.uint8), img_path='y.png'))
    with pytest.raises(KeyError, match='z.png: no proposals and no loaded'):
        transform(dict(img_path='z.png'))


def test_float_image_gives_the_uint8_images_boxes(synthetic_root):
    img = cv2.imread(osp.join(synthetic_root, 'val', '000001.jpg'))
    cfg = dict(max_side=96, max_boxes=None)
    np.testing.assert_array_equal(
        compute_proposals(img.astype(np.float32), cfg),
        compute_proposals(img, cfg))
