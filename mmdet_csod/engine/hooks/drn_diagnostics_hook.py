"""The DRN's stage diagnostics logged during training."""
from typing import Optional

from mmdet.registry import HOOKS
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...evaluation.stage_diagnostics import (build_diagnostics_loader,
                                             diagnostics_dataset_cfg,
                                             flatten_results,
                                             run_stage_diagnostics,
                                             summary_line)


@HOOKS.register_module()
class DRNDiagnosticsHook(Hook):
    """Measure every stage of a DRN on training images every few epochs.

    After every ``interval`` training epochs, runs
    :class:`~mmdet_csod.evaluation.stage_diagnostics.StageDiagnostics` (the
    figures of ``tools/analysis_tools/diagnose_drn.py``) on the first
    ``num_images`` images of the training set's annotation file, with the
    test pipeline, and logs them as scalars
    ``diag/<stage>_<group>_<config>_<figure>`` through the runner's
    visualizer (the work dir's ``vis_data/scalars.json``) at step = the
    number of epochs trained (the step of the validation metrics), plus a
    one-line summary in the log.

    The held-back novel boxes are read from the json for measuring only;
    the model runs in eval mode without gradients and goes back to its
    mode, and the random states are restored, so training goes on exactly
    as without the hook. Only rank 0 measures when distributed.

    Args:
        interval (int): Epochs between measurements. Defaults to 1.
        num_images (int, optional): First images of the training annotation
            file (None: all). Defaults to 100.
        dataloader (dict, optional): Instead, a dataloader config
            (``dataset``, ``batch_size``, ``num_workers``) whose dataset
            must be in test mode with image ids in the meta keys.
        iou_thr (float): Defaults to 0.5.
        touch_gap (float): Pixels between touching boxes. Defaults to 1.
    """
    priority = 'LOW'

    def __init__(self,
                 interval: int = 1,
                 num_images: Optional[int] = 100,
                 dataloader: Optional[dict] = None,
                 iou_thr: float = 0.5,
                 touch_gap: float = 1.0) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self.num_images = num_images
        self.dataloader_cfg = dataloader
        self.iou_thr = iou_thr
        self.touch_gap = touch_gap
        self._loader = self._gt = None

    def _build(self, runner) -> None:
        if self.dataloader_cfg is not None:
            cfg = dict(self.dataloader_cfg)
            ds_cfg = cfg['dataset']
            batch_size = cfg.get('batch_size', 1)
            num_workers = cfg.get('num_workers', 0)
        else:
            ds_cfg = diagnostics_dataset_cfg(runner.cfg, 'train',
                                             self.num_images)
            batch_size, num_workers = 1, 0
        self._loader, self._gt = build_diagnostics_loader(
            ds_cfg, batch_size, num_workers)

    def after_train_epoch(self, runner) -> None:
        if not self.every_n_epochs(runner, self.interval):
            return
        if get_dist_info()[0] != 0:
            return
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        if not hasattr(model, 'predict_stages'):
            raise TypeError(f'DRNDiagnosticsHook: {type(model).__name__} is '
                            'not a DRN (no predict_stages)')
        if self._loader is None:
            self._build(runner)
        diag = run_stage_diagnostics(
            model,
            self._loader,
            self._gt,
            iou_thr=self.iou_thr,
            touch_gap=self.touch_gap)
        results = diag.compute()
        step = runner.epoch + 1
        runner.visualizer.add_scalars(flatten_results(results), step=step)
        runner.logger.info(f'DRN diagnostics, epoch {step}, '
                           f'{diag.num_images} training images: '
                           f'{summary_line(results)}')
