from .checkpoint_fit_hook import CheckpointFitHook
from .class_split_check_hook import (ClassSplitCheckHook,
                                     ClassSplitMismatchError,
                                     check_class_splits, split_differences)
from .drn_diagnostics_hook import DRNDiagnosticsHook
from .pseudo_gt_switch_hook import PseudoGTSwitchHook
from .random_state_hook import RandomStateHook

# default_hooks entries of configs/_base_/default_runtime.py; the tools add
# them to a config that lacks them (ensure_check_hooks)
CHECK_HOOKS = dict(
    class_split_check=dict(type='ClassSplitCheckHook'),
    checkpoint_fit=dict(type='CheckpointFitHook'))


def ensure_check_hooks(cfg) -> None:
    """Add :data:`CHECK_HOOKS` to ``cfg.default_hooks`` where missing (a key
    set to None stays off)."""
    hooks = cfg.get('default_hooks')
    if hooks is None:
        cfg.default_hooks = hooks = {}
    for name, hook in CHECK_HOOKS.items():
        if name not in hooks:
            hooks[name] = dict(hook)


__all__ = [
    'CHECK_HOOKS', 'CheckpointFitHook', 'ClassSplitCheckHook',
    'ClassSplitMismatchError', 'DRNDiagnosticsHook', 'PseudoGTSwitchHook',
    'check_class_splits', 'ensure_check_hooks', 'split_differences'
]
__all__ += ['RandomStateHook']
