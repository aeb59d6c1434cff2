"""The base/novel splits live in the dataset configs; check them."""
import os.path as osp

import pytest
from conftest import REPO_ROOT
from mmdet.datasets import CocoDataset
from mmengine.config import Config

from mmdet_csod.datasets import CSODCocoDataset
from mmdet_csod.datasets.converters.voc import VOC_CLASSES

COCO_CLASSES = CocoDataset.METAINFO['classes']
VOC_IN_COCO = ('airplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
               'cat', 'chair', 'cow', 'dining table', 'dog', 'horse',
               'motorcycle', 'person', 'potted plant', 'sheep', 'couch',
               'train', 'tv')


def _split(name, loader='train_dataloader'):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/_base_/datasets', name + '.py'))
    meta = CSODCocoDataset._load_metainfo(cfg[loader].dataset.get('metainfo'))
    return meta, cfg


@pytest.mark.parametrize('name', ['voc07_csod', 'voc0712_csod'])
def test_voc_split_first_ten_base(name):
    meta, cfg = _split(name)
    assert meta['classes'] == VOC_CLASSES
    assert meta['base_classes'] == VOC_CLASSES[:10]
    assert meta['novel_classes'] == VOC_CLASSES[10:]
    assert cfg.train_dataloader.dataset.supervision == 'cross'
    assert cfg.val_dataloader.dataset.test_mode
    assert cfg.val_evaluator[0].eval_mode == '11points'
    assert cfg.val_evaluator[1].type == 'CorLocMetric'


@pytest.mark.parametrize('name,base,novel', [
    ('coco_csod_nonvoc2voc',
     tuple(c for c in COCO_CLASSES if c not in VOC_IN_COCO), VOC_IN_COCO),
    ('coco_csod_voc2nonvoc', VOC_IN_COCO,
     tuple(c for c in COCO_CLASSES if c not in VOC_IN_COCO)),
    ('coco_csod_twenty2sixty', COCO_CLASSES[:20], COCO_CLASSES[20:]),
    ('coco_csod_sixty2twenty', COCO_CLASSES[20:], COCO_CLASSES[:20]),
])
def test_coco_splits(name, base, novel):
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        meta, _ = _split(name, loader)
        assert meta['classes'] == COCO_CLASSES
        assert set(meta['base_classes']) == set(base)
        assert set(meta['novel_classes']) == set(novel)


def test_synthetic_split():
    meta, cfg = _split('synthetic_csod')
    assert len(meta['classes']) >= 8
    assert meta['base_classes'] == meta['classes'][:5]
    assert meta['novel_classes'] == meta['classes'][5:]
    assert cfg.data_root == 'data/synthetic/'
