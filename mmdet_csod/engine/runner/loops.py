"""An epoch-based train loop that resumes mid-epoch where it stopped.

mmengine's ``EpochBasedTrainLoop`` restores ``_epoch`` and ``_iter`` from a
checkpoint but always starts the restored epoch from its first batch. A
checkpoint saved by iteration (``default_hooks.checkpoint`` with
``by_epoch=False, interval=N``) in the middle of an epoch then makes the
resumed job re-train the batches before it, and it ends after more
iterations than ``max_epochs * len(dataloader)``, with the iteration-based
learning-rate schedule shifted.

:class:`ResumableEpochBasedTrainLoop` skips, in the first epoch after such a
resume, the batches the checkpoint had already trained on, through the
public ``skip`` of the data loader's :class:`ResumableBatchSampler`: the
indices of the skipped batches are drawn (``DefaultSampler`` shuffles by
``seed + epoch``, which the ``DistSamplerSeedHook`` sets before the epoch,
so the order is the one of the interrupted run) and dropped, and no image
of them is loaded or forwarded. The remaining batches, their ``batch_idx``
and ``runner.iter`` (hence the learning rate of every iteration) are those
of an uninterrupted run.

With the random states a checkpoint holds (``RandomStateHook``) the resumed
run is the uninterrupted one, loss for loss: the loop sets them where they
were captured, and keeps what is not training out of the generators'
streams (see :class:`ResumableEpochBasedTrainLoop`).
"""
import logging
from typing import Optional

from mmdet.registry import LOOPS
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader

from .random_states import preserved_random_states, set_random_states
from .samplers import ResumableBatchSampler


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that continues a mid-epoch checkpoint exactly.

    Same arguments as ``EpochBasedTrainLoop``. After ``Runner.resume`` has set
    ``_epoch`` (finished epochs) and ``_iter`` (finished iterations), the
    first epoch run skips the ``_iter - _epoch * len(dataloader)`` batches it
    had done, without loading them (the data loader's batch sampler must be
    a :class:`ResumableBatchSampler`; with another one they are loaded and
    dropped, with a warning). That covers a checkpoint saved by iteration at
    the last batch of an epoch too: its meta still holds the epoch in
    progress, so the whole epoch is skipped and only its end-of-epoch hooks
    (epoch-based schedulers, validation, epoch checkpoint) run. A checkpoint
    at an epoch boundary skips nothing, as in mmengine's loop.

    Random states handed over by :meth:`resume_random_states` (the
    ``RandomStateHook`` does, from the checkpoint) are set at the point of
    the loop they were captured at: right before the first batch after a
    mid-epoch checkpoint (after the data loader's iterator exists), at the
    start of the epoch after an epoch-end one. And two things that are not
    training draw nothing from the global generators, in every run: creating
    the data loader's iterator (torch draws its workers' base seed from
    them) and validation. Otherwise a resumed run, which creates an
    iterator at another point and validates at other points of the streams,
    would train on other draws than an uninterrupted one.

    A killed job resumes mid-epoch when checkpoints are saved by iteration,
    e.g. ``--cfg-options default_hooks.checkpoint.by_epoch=False
    default_hooks.checkpoint.interval=500``, then ``tools/train.py CONFIG
    --resume``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._batches_to_skip = 0
        self._resumed_random_states: Optional[dict] = None

    def resume_random_states(self, states: dict) -> None:
        """Set ``states`` (of ``get_random_states``, taken when a checkpoint
        was saved) when the resumed training reaches the point they were
        taken at, in the next :meth:`run_epoch`."""
        self._resumed_random_states = states

    def run(self):
        """Launch training, skipping the batches a resumed epoch had done."""
        num_batches = len(self.dataloader)
        done = self._iter - self._epoch * num_batches
        if 0 < done <= num_batches:
            self._batches_to_skip = done
            print_log(
                f'Resumed at iteration {self._iter}, inside epoch '
                f'{self._epoch + 1}: skipping its first {done} of '
                f'{num_batches} batches without loading them',
                logger='current')
        elif done != 0:
            print_log(
                f'Resumed at iteration {self._iter} and epoch {self._epoch}, '
                f'which do not match {num_batches} batches an epoch (has the '
                'dataset or batch size changed?): starting the epoch from '
                'its first batch',
                logger='current',
                level=logging.WARNING)
        # mmengine's run, with validation kept out of the random streams
        self.runner.call_hook('before_train')
        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch()
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None
                    and self._epoch >= self.val_begin
                    and (self._epoch % self.val_interval == 0
                         or self._epoch == self._max_epochs)):
                with preserved_random_states():
                    self.runner.val_loop.run()
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_epoch(self) -> None:
        """Iterate one epoch, from the first batch not yet trained on."""
        skip, self._batches_to_skip = self._batches_to_skip, 0
        states, self._resumed_random_states = \
            self._resumed_random_states, None
        if states is not None and not skip:  # taken at an epoch's end
            set_random_states(states)
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        batches = self._batches_after(skip)
        if states is not None and skip:  # taken after batch ``skip``
            set_random_states(states)
        for idx, data_batch in enumerate(batches, start=skip):
            self.run_iter(idx, data_batch)

        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _batches_after(self, skip: int):
        """An iterator over the dataloader's batches of this epoch from batch
        ``skip`` on; creating it leaves the random generators as they are."""
        loader = self.dataloader
        if skip >= len(loader):
            return iter(())
        if skip:
            batch_sampler = getattr(loader, 'batch_sampler', None)
            if not isinstance(loader, DataLoader) or not isinstance(
                    batch_sampler, ResumableBatchSampler):
                print_log(
                    f'The batch sampler of {type(loader).__name__} is not a '
                    'ResumableBatchSampler: loading and dropping the '
                    f'{skip} batches done (slow, and their random draws '
                    'differ from the interrupted run)',
                    logger='current',
                    level=logging.WARNING)
                return self._drop_loaded(skip)
            batch_sampler.skip(skip)
        with preserved_random_states():
            return iter(loader)

    def _drop_loaded(self, skip: int):
        with preserved_random_states():
            batches = iter(self.dataloader)
        for idx, data_batch in enumerate(batches):
            if idx >= skip:
                yield data_batch
