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
    assert dict(model.rec_head.bbox_head.refine_targets) == dict(
        type='OICRTargets', iou_thr=0.5, weight_mode='iou')
    # the SCM: max + sum heatmap of the image's size, FCOS on five convs
    # and five max poolings
    scm = model.scm
    assert scm.type == 'SpatialCorrelationModule'
    assert scm.inputs.type == 'HeatmapInputs'
    assert tuple(scm.inputs.modes) == ('max', 'sum')
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
    # the paper's refinement weighting, as the VGG16 models (but for the
    # ablation whose refinement is PCL's clusters, which weigh by cluster)
    targets = dict(model.rec_head.bbox_head.refine_targets)
    if targets['type'] != 'PCLTargets':
        assert targets == dict(
            type='OICRTargets', iou_thr=0.5, weight_mode='iou')
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


# --------------------------------------------------------------------------
# The WSOD baselines on VGG16: the values of the OICR / PCL papers and code
# (pcl.pytorch: vgg16.dilated_conv5_body, roi_2mlp_head, RoIPoolF 7x7).
WSOD_VGG16_CONFIGS = sorted(
    glob.glob(osp.join(REPO_ROOT, 'configs', 'wsod', '*_vgg16_*.py')))
WSOD_REFINE_BRANCHES = {
    'wsddn_vgg16_voc07.py': 0,
    'oicr_vgg16_voc07.py': 3,
    'pcl_vgg16_voc07.py': 3,
}
# shorter side at random, longer side <= 2000; the test-time augmentation
# runs every training scale, flipped and not
WSOD_TRAIN_SCALES = [(2000, s) for s in (480, 576, 688, 864, 1200)]


def _model_base(name):
    path = osp.join(REPO_ROOT, 'configs', '_base_', 'models', name)
    return Config.fromfile(path)


def _flat(d, prefix=''):
    """``{'a.b.c': leaf}`` of a nested dict (lists are leaves)."""
    out = {}
    for key, value in d.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            out.update(_flat(value, name + '.'))
        else:
            out[name] = value
    return out


def _differing_keys(small, large):
    a, b = _flat(small.to_dict()), _flat(large.to_dict())
    missing = object()
    return {k for k in a.keys() | b.keys() if a.get(k, missing) != b.get(
        k, missing)}


def _within(keys, allowed):
    """The keys that are none of ``allowed`` nor below one of them."""
    return {
        k for k in keys
        if not any(k == a or k.startswith(a + '.') for a in allowed)
    }


def test_glob_finds_the_wsod_vgg16_configs():
    names = sorted(map(osp.basename, WSOD_VGG16_CONFIGS))
    assert names == sorted(WSOD_REFINE_BRANCHES)


@pytest.mark.parametrize(
    'path', WSOD_VGG16_CONFIGS, ids=_ids(WSOD_VGG16_CONFIGS))
def test_wsod_vgg16_has_the_peer_values(path):
    cfg = Config.fromfile(path)
    model = cfg.model
    assert model.type == 'WeakRCNN'
    # conv5_3 with pool4 dropped and conv5 dilated: stride 8; conv1-2 frozen
    assert model.backbone.type == 'WSODVGG16'
    assert model.backbone.dilate_conv5 is True
    assert model.backbone.frozen_stages == 2
    extractor = model.roi_head.bbox_roi_extractor
    assert dict(extractor.roi_layer) == dict(type='RoIPool', output_size=7)
    assert extractor.featmap_strides == [8]
    assert extractor.out_channels == 512
    # fc6 / fc7 with dropout
    assert model.roi_head.num_shared_fcs == 2
    assert model.roi_head.fc_out_channels == 4096
    assert model.roi_head.dropout_ratio == 0.5
    head = model.roi_head.bbox_head
    assert head.in_channels == 4096
    assert head.num_classes == 20
    assert head.num_refine == WSOD_REFINE_BRANCHES[osp.basename(path)]
    if osp.basename(path).startswith('oicr'):
        # OICR: foreground at IoU >= 0.5 with the top proposal, weighted by
        # its score
        assert dict(head.refine_targets) == dict(
            type='OICRTargets', iou_thr=0.5, weight_mode='seed_score')
    assert model.train_cfg.rcnn is None
    assert dict(model.test_cfg.rcnn.nms) == dict(type='nms', iou_threshold=0.3)
    assert model.test_cfg.rcnn.max_per_img == 100
    # 2 images a batch, lr 1e-3 for 40k iterations then 1e-4 for 30k
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.weight_decay) == ('SGD', 1e-3, 0.9, 5e-4)
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == 70000
    steps = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
    assert len(steps) == 1
    assert (steps[0].by_epoch, steps[0].milestones,
            steps[0].gamma) == (False, [40000], 0.1)
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.train_dataloader.dataset.supervision == 'weak'
    # the multi-scale training and test-time augmentation
    assert list(map(tuple, cfg.train_scales)) == WSOD_TRAIN_SCALES
    assert list(map(tuple, cfg.tta_scales)) == WSOD_TRAIN_SCALES


def test_small_drn_base_is_a_delta_on_the_vgg16_drn():
    """drn_small_vgg.py differs from drn_vgg16.py in exactly these keys: a
    value that leaks from one into the other, or a new difference, fails."""
    small = _model_base('drn_small_vgg.py').model
    vgg16 = _model_base('drn_vgg16.py').model
    allowed = {
        'data_preprocessor', 'backbone', 'rec_head.bbox_roi_extractor',
        'rec_head.fc_out_channels', 'rec_head.dropout_ratio',
        'rec_head.bbox_head.in_channels', 'rec_head.bbox_head.num_classes',
        'rec_head.bbox_head.num_refine', 'roi_head.bbox_head.in_channels',
        'roi_head.bbox_head.num_classes', 'scm.heatmap_stride',
        'scm.detector.num_pools', 'loss_weights'
    }
    assert _within(_differing_keys(small, vgg16), allowed) == set()


def test_small_wsod_base_is_a_delta_on_the_vgg16_wsod():
    base = _model_base('wsod_small_vgg.py')
    small, vgg16 = base.model, _model_base('wsod_vgg16.py').model
    allowed = {
        'data_preprocessor', 'backbone', 'roi_head.bbox_roi_extractor',
        'roi_head.fc_out_channels', 'roi_head.bbox_head.in_channels',
        'roi_head.bbox_head.num_classes', 'test_cfg.rcnn.score_thr'
    }
    assert _within(_differing_keys(small, vgg16), allowed) == set()
    # the small model's parts come whole from _base_/models/small_vgg.py
    assert small.backbone == base.small_vgg_backbone
    assert small.data_preprocessor == base.small_vgg_data_preprocessor
    assert small.roi_head.bbox_roi_extractor == base.small_vgg_roi_extractor
    assert small.roi_head.fc_out_channels == 512
    assert small.roi_head.bbox_head.in_channels == 512


# --------------------------------------------------------------------------
# Settings that live once: Fast R-CNN's detection head settings
# (_base_/models/rcnn_settings.py) and the WSOD pipelines
# (_base_/datasets/wsod_pipelines.py).
RCNN_USERS = sorted(
    p for folder in ('csod', osp.join('csod', 'ablations'), 'fast_rcnn')
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', folder, '*.py')))
RCNN_HEAD_KEYS = ('bbox_coder', 'reg_class_agnostic', 'loss_cls', 'loss_bbox')


def _config_texts():
    paths = glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    texts = {}
    for path in paths:
        with open(path) as f:
            texts[osp.relpath(path, REPO_ROOT)] = f.read()
    return texts


def test_rcnn_users_include_the_paper_fast_rcnn_and_rpn_configs():
    names = set(map(osp.basename, RCNN_USERS))
    assert set(SCHEDULES) <= names
    assert {
        'drn-rpn_tiny_synthetic.py', 'fast_rcnn_small-vgg_synthetic-base.py'
    } <= names


@pytest.mark.parametrize('path', RCNN_USERS, ids=_ids(RCNN_USERS))
def test_detection_head_settings_are_the_shared_ones(path):
    shared = _model_base('rcnn_settings.py').model
    model = Config.fromfile(path).model
    assert model.type in ('DRN', 'FastRCNN')
    assert model.train_cfg.rcnn == shared.train_cfg.rcnn
    assert model.test_cfg.rcnn == shared.test_cfg.rcnn
    for key in RCNN_HEAD_KEYS:
        assert model.roi_head.bbox_head[key] == shared.roi_head.bbox_head[key]


def test_rcnn_settings_are_written_once():
    texts = _config_texts()
    for needle in ('pos_fraction=0.25', 'score_thr=0.05',
                   'target_stds=[0.1, 0.1, 0.2, 0.2]'):
        holders = [p for p, text in texts.items() if needle in text]
        assert holders == ['configs/_base_/models/rcnn_settings.py'], needle


def _without_scales(step):
    """A pipeline step with its scales taken out (TTA: one resize view), and
    the proposal settings (each dataset's own, checked apart)."""
    if isinstance(step, list):
        return [_without_scales(s) for s in step]
    step = {
        k: v
        for k, v in step.items()
        if k not in ('scale', 'scales', 'proposal_cfg')
    }
    if step['type'] == 'TestTimeAug':
        views = step['transforms']
        step['transforms'] = [views[0][:1], *views[1:]]
    if 'transforms' in step:
        step['transforms'] = [_without_scales(t) for t in step['transforms']]
    return step


def test_the_pipelines_are_the_wsod_ones_at_other_scales():
    def dataset_base(name):
        return Config.fromfile(
            osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', name))

    wsod = dataset_base('wsod_pipelines.py').to_dict()
    users = {
        name: dataset_base(name).to_dict()
        for name in ('voc07_csod.py', 'voc0712_csod.py', 'coco_csod.py',
                     'synthetic_csod.py')
    }
    for name, cfg in users.items():
        for key in ('train_pipeline', 'test_pipeline', 'tta_pipeline'):
            without = _without_scales(cfg[key])
            assert without == _without_scales(wsod[key]), (name, key)
        assert cfg['train_dataloader']['dataset']['pipeline'] == cfg[
            'train_pipeline']
        assert cfg['test_dataloader']['dataset']['pipeline'] == cfg[
            'test_pipeline']
        assert cfg['tta_model'] == wsod['tta_model']
        for key in ('test_pipeline', 'tta_pipeline'):
            assert cfg[key][1]['type'] == 'LoadOrComputeProposals'
            assert cfg[key][1]['proposal_cfg'] == cfg['proposal_cfg']
        tta = cfg['tta_pipeline'][-1]['transforms'][0]
        assert [v['transforms'][0]['scale'] for v in tta] == cfg['tta_scales']
        assert cfg['tta_resizes'] == tta
    # the scales the generated data is tested at
    synthetic = users['synthetic_csod.py']
    assert synthetic['test_pipeline'][2]['transforms'][0]['scale'] == (
        synthetic['test_scale']) == (480, 288)
    assert synthetic['train_pipeline'][3]['transforms'][0]['scales'] == (
        synthetic['train_scales'])
    # every pipeline step is written in wsod_pipelines.py only
    holders = [
        p for p, text in _config_texts().items()
        if "'PackCSODInputs'" in text or "'ProposalBroadcaster'" in text
    ]
    assert holders == ['configs/_base_/datasets/wsod_pipelines.py']
