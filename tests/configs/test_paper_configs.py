"""The VGG16 DRN configs resolve to the paper's settings, and the small
(CPU) DRN configs keep their own: a change to a shared base that leaks from
one tree into the other fails here. Config files only, no model built."""
import glob
import os.path as osp

import pytest
from conftest import REPO_ROOT
from mmengine.config import Config

VGG16_CONFIGS = sorted(
    glob.glob(osp.join(REPO_ROOT, 'configs', 'csod', 'drn_vgg16_*.py')))
# every other DRN config (the model zoo's and the ablations'): the small
# model on the generated data
SMALL_CONFIGS = sorted(
    p for folder in ('csod', osp.join('csod', 'ablations'))
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', folder, '*.py'))
    if p not in VGG16_CONFIGS)
# the small configs that train all three losses (Finetune's stages switch
# one off)
SMALL_ALL_LOSSES = [
    osp.join(REPO_ROOT, 'configs', 'csod', name) for name in (
        'drn_tiny_synthetic.py', 'drn-rpn_tiny_synthetic.py',
        'ours-wo-scm_tiny_synthetic.py', 'two-head_tiny_synthetic.py',
        'two-head-plus_tiny_synthetic.py', 'two-branch_tiny_synthetic.py')
]

# "Cross-Supervised Object Detection", sections 5.1 (VOC) and 5.2 (COCO).
# Milestones and start epochs are 0-based: mmengine drops the lr once that
# many epochs are done, so "/ 10 at the 14th epoch" is milestone 13, and
# "none in the first 9 epochs" is PseudoGTSwitchHook(start_epoch=9).
VOC = dict(max_epochs=20, milestones=[13], start_epoch=9)
COCO = dict(max_epochs=13, milestones=[7, 11], start_epoch=5)
SCHEDULES = {
    'drn_vgg16_voc07.py': VOC,
    'drn_vgg16_voc0712.py': VOC,
    'drn_vgg16_coco-nonvoc2voc.py': COCO,
    'drn_vgg16_coco-sixty2twenty.py': COCO,
}


def _ids(paths):
    return [osp.relpath(p, REPO_ROOT) for p in paths]


def _pseudo_gt_hooks(cfg):
    return [
        h for h in cfg.get('custom_hooks', [])
        if h['type'] == 'PseudoGTSwitchHook'
    ]


def test_glob_finds_the_four_vgg16_configs():
    assert sorted(map(osp.basename, VGG16_CONFIGS)) == sorted(SCHEDULES)


@pytest.mark.parametrize('path', VGG16_CONFIGS, ids=_ids(VGG16_CONFIGS))
def test_vgg16_model_has_the_paper_values(path):
    model = Config.fromfile(path).model
    assert model.type == 'DRN'
    # lambda_rec 1, lambda_det 10, lambda_scm 10
    assert dict(model.loss_weights) == dict(rec=1.0, det=10.0, scm=10.0)
    # VGG16 conv5_3 (no dilation, stride 16), RoI pooling 7x7, fc6 / fc7
    assert model.backbone.type == 'WSODVGG16'
    assert model.backbone.dilate_conv5 is False
    extractor = model.rec_head.bbox_roi_extractor
    assert dict(extractor.roi_layer) == dict(type='RoIPool', output_size=7)
    assert extractor.featmap_strides == [16]
    assert model.rec_head.num_shared_fcs == 2
    assert model.rec_head.fc_out_channels == 4096
    assert model.rec_head.bbox_head.in_channels == 4096
    assert model.roi_head.bbox_head.in_channels == 4096
    assert model.share_roi_features is True
    # the refinement: foreground at IoU 0.5 with the top-scoring proposal,
    # weighted by that IoU (oicr_pseudo_labels compares with >=)
    assert dict(model.rec_head.bbox_head.pseudo_label_cfg) == dict(
        iou_thr=0.5, weight_mode='iou')
    # the SCM: max + sum heatmap of the image's size, FCOS on five convs
    # and five max poolings
    scm = model.scm
    assert scm.type == 'SpatialCorrelationModule'
    assert tuple(scm.modes) == ('max', 'sum')
    assert scm.heatmap_stride == 1
    assert scm.detector.type == 'HeatmapFCOS'
    assert scm.detector.num_convs == 5
    assert scm.detector.num_pools == 5
    assert 'head' not in scm.detector  # FCOSHead's loss as HeatmapFCOS sets
    assert model.pseudo_gt == 'scm'


@pytest.mark.parametrize('path', VGG16_CONFIGS, ids=_ids(VGG16_CONFIGS))
def test_vgg16_schedule_has_the_paper_values(path):
    cfg = Config.fromfile(path)
    expected = SCHEDULES[osp.basename(path)]
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'SGD'
    assert optimizer.lr == 1e-3
    assert optimizer.momentum == 0.9
    assert optimizer.weight_decay == 5e-4
    assert cfg.train_cfg.max_epochs == expected['max_epochs']
    steps = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
    assert len(steps) == 1
    assert steps[0].by_epoch is True
    assert steps[0].milestones == expected['milestones']
    assert steps[0].gamma == 0.1
    assert steps[0].end == expected['max_epochs']
    # the only other scheduler is the iteration-based warm-up
    others = [s for s in cfg.param_scheduler if s.type != 'MultiStepLR']
    assert [(s.type, s.by_epoch) for s in others] == [('LinearLR', False)]
    hooks = _pseudo_gt_hooks(cfg)
    assert len(hooks) == 1
    assert hooks[0].get('start_iter') is None
    assert hooks[0].start_epoch == expected['start_epoch']


def test_glob_finds_the_small_configs():
    assert set(SMALL_ALL_LOSSES) <= set(SMALL_CONFIGS)
    assert len(SMALL_CONFIGS) >= 20


@pytest.mark.parametrize('path', SMALL_CONFIGS, ids=_ids(SMALL_CONFIGS))
def test_small_drn_configs_keep_their_own_model(path):
    cfg = Config.fromfile(path)
    model = cfg.model
    assert model.type == 'DRN'
    # the paper's refinement weighting, as the VGG16 models
    assert dict(model.rec_head.bbox_head.pseudo_label_cfg) == dict(
        iou_thr=0.5, weight_mode='iou')
    # the small model's parts come whole from _base_/models/small_vgg.py,
    # none of VGG16's keys merged in
    assert model.backbone == cfg.small_vgg_backbone
    assert model.data_preprocessor == cfg.small_vgg_data_preprocessor
    assert model.rec_head.bbox_roi_extractor == cfg.small_vgg_roi_extractor
    assert model.rec_head.fc_out_channels == 512
    assert model.rec_head.dropout_ratio == 0.0
    assert model.rec_head.bbox_head.in_channels == 512
    if model.share_roi_features:
        assert model.roi_head.bbox_head.in_channels == 512
    if model.get('scm') is not None:
        assert model.scm.heatmap_stride == 4
        if model.scm.detector.type == 'HeatmapFCOS':
            assert model.scm.detector.num_pools <= 2
    assert set(model.loss_weights.values()) <= {0.0, 1.0}
    assert cfg.optim_wrapper.optimizer.lr == 0.02


@pytest.mark.parametrize('path', SMALL_ALL_LOSSES, ids=_ids(SMALL_ALL_LOSSES))
def test_small_drn_loss_weights_are_one(path):
    model = Config.fromfile(path).model
    assert dict(model.loss_weights) == dict(rec=1.0, det=1.0, scm=1.0)
    # the lighter refinement of the small model (Table 3c's ablations
    # change it)
    assert model.rec_head.bbox_head.num_refine == 2
