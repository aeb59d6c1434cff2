"""The warm-up switch, in a real Runner, and across a resume."""
import os.path as osp

import pytest
from conftest import REPO_ROOT, use_data_root
from mmdet.registry import HOOKS
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

SEEN = []


@HOOKS.register_module(force=True)
class _RecordPseudoGTState(Hook):
    priority = 'LOW'  # after PseudoGTSwitchHook (NORMAL)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        SEEN.append((runner.epoch, runner.model.pseudo_gt_enabled))


def _cfg(root, work_dir, epochs):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/csod/ours-wo-scm_tiny_synthetic.py'))
    cfg.work_dir = work_dir
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = 100
    use_data_root(cfg, root)
    cfg.train_dataloader.dataset.indices = 4
    cfg.train_dataloader.batch_size = 2
    cfg.custom_hooks = [
        dict(type='PseudoGTSwitchHook', start_epoch=2),
        dict(type='_RecordPseudoGTState')
    ]
    return cfg


def test_switch_by_epoch_and_after_resume(synthetic_root, tmp_path):
    SEEN.clear()
    Runner.from_cfg(_cfg(synthetic_root, str(tmp_path), 2)).train()
    assert SEEN == [(0, False), (0, False), (1, False), (1, False)]
    SEEN.clear()
    cfg = _cfg(synthetic_root, str(tmp_path), 3)
    cfg.resume = True
    Runner.from_cfg(cfg).train()
    # resumed at epoch 2: the switch is on from the first iteration
    assert SEEN == [(2, True), (2, True)]


def test_exactly_one_start():
    from mmdet_csod.engine.hooks import PseudoGTSwitchHook
    with pytest.raises(ValueError, match='exactly one'):
        PseudoGTSwitchHook()
    with pytest.raises(ValueError, match='exactly one'):
        PseudoGTSwitchHook(start_epoch=1, start_iter=10)
