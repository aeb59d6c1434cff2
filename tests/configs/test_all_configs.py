"""Every config of the project loads and its model builds."""
import glob
import os.path as osp

import pytest
from conftest import REPO_ROOT
from mmdet.registry import MODELS
from mmengine.config import Config

CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)


def test_there_are_configs():
    assert len(CONFIGS) >= 4


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO_ROOT) for p in CONFIGS])
def test_config_loads_and_model_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['mmdet_csod']
    assert cfg.default_scope == 'mmdet'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'val_evaluator', 'optim_wrapper', 'param_scheduler'):
        assert key in cfg, key
    model = MODELS.build(cfg.model)
    assert model is not None
