"""A checkpoint that does not fit the model is an error, not a warning.

mmengine's Runner loads ``load_from`` (and so ``tools/test.py``'s
CHECKPOINT) and ``--resume`` with ``strict=False``: a checkpoint of another
model leaves the layers it lacks as initialised and only logs the missing
keys, and ``tools/test.py`` then reports metrics of a half-random model.
:class:`CheckpointFitHook` checks the checkpoint in ``after_load_checkpoint``
(after it is read, before it is copied into the model) with
:func:`mmdet_csod.utils.check_checkpoint_fits`: missing or unexpected keys
and shape mismatches are an error naming the checkpoint, the config and the
first keys. Partial loading is explicit: ``load_from_partial=True`` in the
config (``--allow-partial`` of tools/train.py and tools/test.py), or the
hook's ``allow_partial``.

Backbone weights for a fresh model (``init_cfg=dict(type='Pretrained')``)
are partial by nature and do not pass through here.
"""
from typing import Optional

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from ...utils.checkpoint import check_checkpoint_fits, checkpoint_source

FLAG = ('--allow-partial (tools/train.py, tools/test.py) or '
        'load_from_partial=True in the config')


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Fail when ``load_from`` / ``--resume`` does not fit the model.

    Args:
        allow_partial (bool, optional): Load what fits. None: the config's
            ``load_from_partial`` (default False).
    """
    priority = 'LOWEST'  # after hooks that revise the checkpoint (EMA)

    def __init__(self, allow_partial: Optional[bool] = None) -> None:
        self.allow_partial = allow_partial

    def _allowed(self, runner) -> bool:
        if self.allow_partial is not None:
            return bool(self.allow_partial)
        cfg = runner.cfg
        return bool(cfg.get('load_from_partial', False)) if cfg else False

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._allowed(runner):
            return
        filename = (
            checkpoint_source(checkpoint) or runner._load_from
            or 'the checkpoint')
        config = getattr(runner.cfg, 'filename',
                         None) or (f'the config of {runner.experiment_name}')
        check_checkpoint_fits(
            runner.model, checkpoint, filename, config=config, flag=FLAG)
