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

    def _set(self, runner, enabled: bool,
             switch: str = 'pseudo_gt_enabled',
             what: str = 'pseudo ground truth for novel classes') -> None:
        model = self._model(runner)
        if not hasattr(model, switch):
            raise TypeError(f'{type(model).__name__} has no {switch} '
                            'switch (use a DRN)')
        if getattr(model, switch) != enabled:
            runner.logger.info(
                f'{what} {"enabled" if enabled else "disabled"} at epoch '
                f'{runner.epoch}, iteration {runner.iter}')
        setattr(model, switch, enabled)

    def before_train_epoch(self, runner) -> None:
        if self.start_epoch is not None:
            self._set(runner, runner.epoch >= self.start_epoch)
        if self.det_start_epoch is not None:
            self._set(runner, runner.epoch >= self.det_start_epoch,
                      'det_pseudo_enabled',
                      "the detection head's own boxes as pseudo boxes")

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self.start_iter is not None:
            self._set(runner, runner.iter >= self.start_iter)
