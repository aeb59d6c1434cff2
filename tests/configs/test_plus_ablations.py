"""Each Ours+ ablation differs from Ours+ in its own switch and nothing
else, so that a row of the README's Ours+ table measures that switch."""
import os.path as osp

import pytest
from conftest import REPO_ROOT
from mmengine.config import Config

CSOD = osp.join(REPO_ROOT, 'configs', 'csod')


def _flat(d, prefix=''):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


def _diff(name):
    plus = _flat(Config.fromfile(osp.join(
        CSOD, 'drn-plus_tiny_synthetic.py')).to_dict())
    abl = _flat(Config.fromfile(osp.join(
        CSOD, 'ablations', f'drn-plus_tiny_synthetic_{name}.py')).to_dict())
    keys = {k for k in plus.keys() | abl.keys()
            if plus.get(k) != abl.get(k)}
    return {k: (plus.get(k), abl.get(k)) for k in keys}


def test_ours_plus_switches():
    cfg = Config.fromfile(osp.join(CSOD, 'drn-plus_tiny_synthetic.py'))
    assert cfg.model.rec_pseudo_seeds is True
    assert cfg.model.pseudo_off_base_boxes is True
    assert cfg.model.exclusive_evidence is True
    assert cfg.model.get('rec_scm_base_seeds', False) is False
    assert cfg.model.scm.max_per_query == 3
    assert cfg.model.scm.detector.norm_cfg == dict(type='GN', num_groups=8)
    assert cfg.train_cfg.max_epochs == 4
    paper = Config.fromfile(osp.join(CSOD, 'drn_tiny_synthetic.py'))
    assert paper.model.get('rec_pseudo_seeds', False) is False
    assert paper.model.get('pseudo_off_base_boxes', False) is False
    assert paper.model.get('exclusive_evidence', False) is False
    assert paper.model.get('rec_scm_base_seeds', False) is False


@pytest.mark.parametrize('name,keys', [
    ('no-pseudo-seeds', {'model.rec_pseudo_seeds'}),
    ('scm-base-seeds', {'model.rec_scm_base_seeds'}),
    ('no-off-base', {'model.pseudo_off_base_boxes'}),
    ('no-gn', {'model.scm.detector.norm_cfg',
               'model.scm.detector.norm_cfg.type',
               'model.scm.detector.norm_cfg.num_groups'}),
    ('one-box', {'model.scm.max_per_query',
                 'model.scm.detector.test_cfg.max_per_img'}),
    ('scm-image', {'model.scm.inputs', 'model.scm.inputs.type',
                   'model.scm.inputs.modes'}),
    ('objectness', {'model.objectness_head', 'model.objectness_head.type',
                    'model.objectness_head.in_channels'}),
    ('det-pseudo', {'model.det_pseudo_boxes', 'custom_hooks'}),
    ('neighbours', {'model.scm.train_composition',
                    'model.scm.train_composition.type'}),
    ('scale-jitter', {'model.scm.train_composition',
                      'model.scm.train_composition.type'}),
    ('mil-evidence', {'model.scm_evidence'}),
    ('no-exclusive-evidence', {'model.exclusive_evidence'}),
    ('scm-context', {'model.scm.inputs.type'}),
])
def test_ablation_changes_only_its_switch(name, keys):
    diff = _diff(name)
    assert set(diff) <= keys and diff, diff


def test_no_scm_changes_only_the_scm_and_the_pseudo_box_source():
    """The SCM's own leave-one-out row: no SCM, the pseudo boxes the
    recognition head's top box ('rec'); every other switch as Ours+'s."""
    diff = _diff('no-scm')
    assert diff['model.pseudo_gt'] == ('scm', 'rec')
    assert all(k == 'model.pseudo_gt' or k == 'model.scm'
               or k.startswith('model.scm.') for k in diff), sorted(diff)
    abl = Config.fromfile(osp.join(
        CSOD, 'ablations', 'drn-plus_tiny_synthetic_no-scm.py'))
    assert abl.model.scm is None
    assert abl.model.rec_pseudo_seeds is True
    assert abl.model.exclusive_evidence is True
    assert abl.train_cfg.max_epochs == 4


@pytest.mark.parametrize('name,epochs', [('2e', 2), ('3e', 3)])
def test_schedule_ablations_change_only_the_length(name, epochs):
    """The warm-up as Ours+'s, the cosine stretched over the epochs."""
    diff = _diff(name)
    assert set(diff) == {'param_scheduler', 'train_cfg.max_epochs',
                         'train_cfg.val_interval'}, diff
    assert diff['train_cfg.max_epochs'] == (4, epochs)
    assert diff['train_cfg.val_interval'] == (4, epochs)
    plus, abl = diff['param_scheduler']
    assert abl[0] == plus[0]
    assert dict(abl[1], T_max=4, end=4) == plus[1]
    assert (abl[1]['T_max'], abl[1]['end']) == (epochs, epochs)


def test_distinct_proposals_changes_only_the_proposals_kept():
    """Training, val and test sets and the computing test pipelines keep the
    first 150 distinct proposals (as measured, when the configs kept the
    first 150); nothing else of the pipelines changes."""
    diff = _diff('distinct-proposals')
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    assert set(diff) == {
        'proposal_nms_iou', 'proposal_cfg.nms_iou', 'max_proposals',
        'proposal_cfg.max_boxes',
        *(f'{k}.dataset.proposal_nms_iou' for k in loaders),
        *(f'{k}.dataset.num_max_proposals' for k in loaders),
        'val_dataloader.dataset.pipeline', 'test_dataloader.dataset.pipeline',
        'test_pipeline', 'tta_pipeline'}, sorted(diff)
    for key in ('proposal_nms_iou', 'proposal_cfg.nms_iou',
                *(f'{k}.dataset.proposal_nms_iou' for k in loaders)):
        assert diff[key] == (None, 0.7), key
    for key in ('max_proposals', 'proposal_cfg.max_boxes',
                *(f'{k}.dataset.num_max_proposals' for k in loaders)):
        assert diff[key] == (2000, 150), key
    for key in ('test_dataloader.dataset.pipeline', 'tta_pipeline'):
        plus, abl = diff[key]
        assert len(plus) == len(abl)
        changed = [(p, a) for p, a in zip(plus, abl) if p != a]
        assert [p['type'] for p, _ in changed] == ['LoadOrComputeProposals']
        p, a = changed[0]
        assert a['proposal_cfg'] == dict(
            p['proposal_cfg'], max_boxes=150, nms_iou=0.7)
