"""DRNDiagnosticsHook: scalars in a real Runner's work dir, a wrapped
model, rank 0 only, and no trace left on the model or the random state."""
import glob
import json
import os.path as osp
import random
import types

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, use_data_root
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from mmdet_csod.engine.hooks import DRNDiagnosticsHook, drn_diagnostics_hook

CONFIG = osp.join(REPO_ROOT, 'configs/csod/drn_tiny_synthetic.py')


def _cfg(root):
    return use_data_root(Config.fromfile(CONFIG), root)


def _train(root, work_dir, with_hook):
    cfg = _cfg(root)
    cfg.work_dir = work_dir
    # mmengine's visualizer is a named singleton and the configs name it
    # 'visualizer' (as mmdet's default_runtime does): a runner built earlier
    # in this process (another test) would lend this one its visualizer,
    # which writes the scalars into that runner's work dir
    cfg.visualizer.name = f'visualizer_{work_dir}'
    cfg.train_cfg.max_epochs = 2
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.train_dataloader.dataset.indices = 2
    cfg.train_dataloader.batch_size = 2
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 100
    cfg.custom_hooks = [dict(type='PseudoGTSwitchHook', start_epoch=1)]
    if with_hook:
        cfg.custom_hooks.append(dict(type='DRNDiagnosticsHook', num_images=3))
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_hook_logs_scalars_and_leaves_training_alone(synthetic_root,
                                                     tmp_path):
    work = str(tmp_path / 'with')
    runner = _train(synthetic_root, work, True)
    files = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    assert len(files) == 1
    with open(files[0]) as f:
        records = [json.loads(line) for line in f]
    diag = [r for r in records if any(k.startswith('diag/') for k in r)]
    # after each epoch, at the step of the val metrics: epochs trained
    assert [r['step'] for r in diag] == [1, 2]
    for rec in diag:
        for key in ('diag/rec_base_all_corloc',
                    'diag/scm_novel_all_fallback',
                    'diag/pseudo_novel_touching_boxes_per_pair',
                    'diag/det_novel_all_ap50', 'diag/det_base_free_count'):
            assert key in rec, key
        values = {k: v for k, v in rec.items() if k.startswith('diag/')}
        assert all(np.isfinite(v) for v in values.values())
        assert all(0 <= v <= 100 for k, v in values.items()
                   if k.endswith(('corloc', 'mean_iou', 'fallback', 'ap50')))
    assert diag[0] != diag[1]  # the model changed in between
    logs = glob.glob(osp.join(work, '*', '*.log'))
    with open(logs[0]) as f:
        assert 'DRN diagnostics, epoch 2, 3 training images' in f.read()
    # the same training without the hook ends with the same weights
    plain = _train(synthetic_root, str(tmp_path / 'without'), False)
    ours = runner.model.state_dict()
    for key, value in plain.model.state_dict().items():
        assert torch.equal(value, ours[key]), key


class _Recorder:

    def __init__(self):
        self.calls = []

    def add_scalars(self, scalars, step=0, **kwargs):
        self.calls.append((dict(scalars), step))


def _fake_runner(cfg, model, epoch):
    return types.SimpleNamespace(
        model=model,
        cfg=cfg,
        epoch=epoch,
        visualizer=_Recorder(),
        logger=MMLogger.get_instance('diag_hook_test'))


@pytest.fixture(scope='module')
def drn():
    torch.manual_seed(0)
    return MODELS.build(Config.fromfile(CONFIG).model)


def test_wrapped_model_left_as_it_was(drn, synthetic_root):
    hook = DRNDiagnosticsHook(interval=2, num_images=2)
    runner = _fake_runner(_cfg(synthetic_root), torch.nn.DataParallel(drn),
                          epoch=0)
    drn.train()
    hook.after_train_epoch(runner)  # epoch 1 of every 2: nothing
    assert runner.visualizer.calls == [] and hook._loader is None
    before = {k: v.clone() for k, v in drn.state_dict().items()}
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    rng = (random.getstate(), np.random.get_state()[1].copy(),
           torch.random.get_rng_state())
    runner.epoch = 1
    hook.after_train_epoch(runner)
    (scalars, step), = runner.visualizer.calls
    assert step == 2
    assert scalars and all(k.startswith('diag/') for k in scalars)
    assert drn.training
    for k, v in drn.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert random.getstate() == rng[0]
    assert np.array_equal(np.random.get_state()[1], rng[1])
    assert torch.equal(torch.random.get_rng_state(), rng[2])
    # the loader is built once
    loader = hook._loader
    runner.epoch = 3
    hook.after_train_epoch(runner)
    assert hook._loader is loader and len(runner.visualizer.calls) == 2
    assert runner.visualizer.calls[1][0] == scalars  # same model, same data


def test_other_ranks_skip(drn, synthetic_root, monkeypatch):
    monkeypatch.setattr(drn_diagnostics_hook, 'get_dist_info', lambda: (1, 2))
    hook = DRNDiagnosticsHook(num_images=2)
    runner = _fake_runner(_cfg(synthetic_root), drn, epoch=0)
    hook.after_train_epoch(runner)
    assert runner.visualizer.calls == [] and hook._loader is None


def test_a_model_that_is_not_a_drn_is_an_error(synthetic_root):
    hook = DRNDiagnosticsHook()
    runner = _fake_runner(_cfg(synthetic_root), torch.nn.Linear(2, 2), 0)
    with pytest.raises(TypeError, match='not a DRN'):
        hook.after_train_epoch(runner)
