"""Test helper for tests/engine/test_resume_mid_epoch.py (not a test module).

IterTraceHook appends one JSON line per training iteration to ``out_file``:
the iteration number (1-based), epoch, batch index, the learning rate the
iteration trained with, the image paths of its batch and the losses the
model returned (full float precision); and a last line
with the loop's epoch and iteration when training ends. With
``pause_at_iter=N`` it writes ``pause_file`` before iteration N + 1 (after
the checkpoint hook of iteration N) and sleeps, for the test to kill it.
"""
import json
import time

from mmdet.registry import HOOKS
from mmengine.hooks import Hook


@HOOKS.register_module(force=True)
class IterTraceHook(Hook):

    def __init__(self, out_file, pause_at_iter=None, pause_file=None):
        self.out_file = out_file
        self.pause_at_iter = pause_at_iter
        self.pause_file = pause_file
        self._lr = None

    def _write(self, record):
        with open(self.out_file, 'a') as f:
            f.write(json.dumps(record) + '\n')

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.pause_at_iter:
            with open(self.pause_file, 'w') as f:
                f.write(str(runner.iter))
            time.sleep(600)
        # the rate this iteration's step uses (schedulers step after it)
        self._lr = runner.optim_wrapper.get_lr()['lr'][0]

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        self._write(
            dict(
                iter=runner.iter + 1,
                epoch=runner.epoch,
                batch_idx=batch_idx,
                lr=self._lr,
                imgs=[s.img_path for s in data_batch['data_samples']],
                losses={
                    k: float(v)
                    for k, v in (outputs or {}).items()
                }))

    def after_train(self, runner):
        self._write(dict(end=True, epoch=runner.epoch, iter=runner.iter))
