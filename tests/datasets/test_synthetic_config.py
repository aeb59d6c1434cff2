"""The generated dataset through configs/_base_/datasets/synthetic_csod.py."""
import os.path as osp

import numpy as np
import torch
from conftest import REPO_ROOT
from mmdet.registry import DATASETS
from mmengine.config import Config

CONFIG = osp.join(REPO_ROOT, 'configs/_base_/datasets/synthetic_csod.py')


def _build(cfg_dataset, root):
    cfg = cfg_dataset.copy()
    cfg.data_root = root
    return DATASETS.build(cfg)


def test_config_paths_are_relative_to_data_root():
    cfg = Config.fromfile(CONFIG)
    assert cfg.data_root == 'data/synthetic/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[loader].dataset
        assert ds.data_root == cfg.data_root
        for key in (ds.ann_file, ds.proposal_file, ds.data_prefix.img):
            assert not osp.isabs(key) and not key.startswith('data/')


def test_training_set_holds_no_novel_box(synthetic_root):
    cfg = Config.fromfile(CONFIG)
    ds = _build(cfg.train_dataloader.dataset, synthetic_root)
    meta = ds.metainfo
    novel = {meta['classes'].index(c) for c in meta['novel_classes']}
    assert len(novel) >= 4 and len(meta['base_classes']) >= 4
    assert len(ds) > 0
    saw_novel_label = False
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert not {x['bbox_label'] for x in info['instances']} & novel
        sample = ds[i]['data_samples']
        labels = set(sample.gt_instances.labels.tolist())
        labels |= set(sample.ignored_instances.labels.tolist())
        assert not labels & novel, f'novel box in {info["img_path"]}'
        assert sample.image_labels.shape == (len(meta['classes']), )
        assert sample.image_labels.dtype == torch.float32
        assert len(sample.proposals.bboxes) > 0
        saw_novel_label |= bool(sample.image_labels[list(novel)].any())
    assert saw_novel_label


def test_val_set_has_novel_boxes(synthetic_root):
    cfg = Config.fromfile(CONFIG)
    ds = _build(cfg.val_dataloader.dataset, synthetic_root)
    novel = {
        ds.metainfo['classes'].index(c)
        for c in ds.metainfo['novel_classes']
    }
    labels = [
        x['bbox_label'] for i in range(len(ds))
        for x in ds.get_data_info(i)['instances']
    ]
    assert set(labels) & novel
    sample = ds[0]['data_samples']
    assert len(sample.proposals.bboxes) > 0
    # the image is resized, the ground truth stays in original coordinates
    # (where predictions are rescaled to for evaluation)
    assert sample.scale_factor != (1.0, 1.0)
    info = ds.get_data_info(0)
    np.testing.assert_allclose(
        sample.gt_instances.bboxes.numpy(),
        np.array([x['bbox'] for x in info['instances']
                  if not x['ignore_flag']], np.float32).reshape(-1, 4))
    assert np.isfinite(sample.proposals.bboxes.numpy()).all()
