"""Warm-up switch of the recognition -> detection supervision."""
from typing import Optional

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


@HOOKS.register_module()
class PseudoGTSwitchHook(Hook):
    """Hold back the pseudo ground truth of novel classes at first.

    The paper gives the detection head no supervision from the recognition
    head during the first epochs (9 of 20 on VOC, 5 of 13 on COCO), while the
    recognition head and the SCM learn. This hook sets the detector's
    ``pseudo_gt_enabled`` before every training epoch (or iteration) from the
    runner's progress, so a resumed run is in the right state.

    Args:
        start_epoch (int, optional): First epoch (0-based) with pseudo boxes.
        start_iter (int, optional): First iteration instead, for
            iteration-based schedules. Exactly one of the two is given.
        det_start_epoch (int, optional): First epoch whose pseudo boxes are
            the detection head's own (the DRN's ``det_pseudo_enabled``, read
            with ``det_pseudo_boxes=True``); None leaves it as it is.
    """
    priority = 'NORMAL'

    def __init__(self, start_epoch: Optional[int] = None,
                 start_iter: Optional[int] = None,
                 det_start_epoch: Optional[int] = None) -> None:
        if (start_epoch is None) == (start_iter is None):
            raise ValueError('give exactly one of start_epoch, start_iter')
        self.start_epoch = start_epoch
        self.start_iter = start_iter
        self.det_start_epoch = det_start_epoch

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _set(self, runner, enabled: bool) -> None:
        model = self._model(runner)
        if not hasattr(model, 'pseudo_gt_enabled'):
            raise TypeError(f'{type(model).__name__} has no '
                            'pseudo_gt_enabled switch (use a DRN)')
        if model.pseudo_gt_enabled != enabled:
            runner.logger.info(
                f'pseudo ground truth for novel classes '
                f'{"enabled" if enabled else "disabled"} at epoch '
                f'{runner.epoch}, iteration {runner.iter}')
        model.pseudo_gt_enabled = enabled

    def before_train_epoch(self, runner) -> None:
        if self.start_epoch is not None:
            self._set(runner, runner.epoch >= self.start_epoch)
        if self.det_start_epoch is not None:
            model = self._model(runner)
            if not hasattr(model, 'det_pseudo_enabled'):
                raise TypeError(f'{type(model).__name__} has no '
                                'det_pseudo_enabled switch (use a DRN)')
            enabled = runner.epoch >= self.det_start_epoch
            if model.det_pseudo_enabled != enabled:
                runner.logger.info(
                    'the detection head\'s own boxes as pseudo boxes: '
                    f'{"on" if enabled else "off"} at epoch {runner.epoch}')
            model.det_pseudo_enabled = enabled

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self.start_iter is not None:
            self._set(runner, runner.iter >= self.start_iter)
