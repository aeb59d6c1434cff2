"""An epoch-based train loop that resumes mid-epoch where it stopped.

mmengine's ``EpochBasedTrainLoop`` restores ``_epoch`` and ``_iter`` from a
checkpoint but always starts the restored epoch from its first batch. A
checkpoint saved by iteration (``default_hooks.checkpoint`` with
``by_epoch=False, interval=N``) in the middle of an epoch then makes the
resumed job re-train the batches before it, and it ends after more
iterations than ``max_epochs * len(dataloader)``, with the iteration-based
learning-rate schedule shifted.

:class:`ResumableEpochBasedTrainLoop` skips, in the first epoch after such a
resume, the batches the checkpoint had already trained on. It skips them in
the batch sampler, not in the data loader: the indices of the skipped
batches are drawn (``DefaultSampler`` shuffles by ``seed + epoch``, which the
``DistSamplerSeedHook`` sets before the epoch, so the order is the one of the
interrupted run) and dropped, and no image of them is loaded or forwarded.
The remaining batches, their ``batch_idx`` and ``runner.iter`` (hence the
learning rate of every iteration) are those of an uninterrupted run.
"""
import logging
from typing import Iterator

from mmdet.registry import LOOPS
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader


class SkippableBatchSampler:
    """Wraps a batch sampler so that its next pass drops its first batches.

    ``skip(n)`` arms it: the next ``iter()`` draws the first ``n`` batches of
    indices from the wrapped sampler and throws them away, then yields the
    rest; later passes are the wrapped sampler's. Only indices are drawn
    (``AspectRatioBatchSampler`` reads ``get_data_info``, no image). Other
    attributes (``sampler``, ``batch_size``...) are the wrapped sampler's, and
    ``len()`` stays the full number of batches.

    Args:
        batch_sampler: The batch sampler of a ``DataLoader``.
    """

    def __init__(self, batch_sampler) -> None:
        self.batch_sampler = batch_sampler
        self._skip = 0

    def skip(self, num_batches: int) -> None:
        """Drop the first ``num_batches`` batches of the next pass."""
        self._skip = int(num_batches)

    def __iter__(self) -> Iterator:
        num_batches, self._skip = self._skip, 0
        batches = iter(self.batch_sampler)
        for _ in range(num_batches):
            if next(batches, None) is None:
                break
        return batches

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __getattr__(self, name):
        # only reached for names this wrapper lacks; guard against lookups
        # before __init__ (unpickling, copy)
        if name == 'batch_sampler':
            raise AttributeError(name)
        return getattr(self.batch_sampler, name)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that continues a mid-epoch checkpoint exactly.

    Same arguments as ``EpochBasedTrainLoop``. After ``Runner.resume`` has set
    ``_epoch`` (finished epochs) and ``_iter`` (finished iterations), the
    first epoch run skips the ``_iter - _epoch * len(dataloader)`` batches it
    had done, without loading them (see :class:`SkippableBatchSampler`).
    That covers a checkpoint saved by iteration at the last batch of an
    epoch too: its meta still holds the epoch in progress, so the whole epoch
    is skipped and only its end-of-epoch hooks (epoch-based schedulers,
    validation, epoch checkpoint) run. A checkpoint at an epoch boundary
    skips nothing, as in mmengine's loop.

    A killed job resumes mid-epoch when checkpoints are saved by iteration,
    e.g. ``--cfg-options default_hooks.checkpoint.by_epoch=False
    default_hooks.checkpoint.interval=500``, then ``tools/train.py CONFIG
    --resume``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._batches_to_skip = 0

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
        return super().run()

    def run_epoch(self) -> None:
        """Iterate one epoch, from the first batch not yet trained on."""
        skip, self._batches_to_skip = self._batches_to_skip, 0
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        batches = self._batches_after(skip) if skip else self.dataloader
        for idx, data_batch in enumerate(batches, start=skip):
            self.run_iter(idx, data_batch)

        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _batches_after(self, skip: int):
        """The dataloader's batches of this epoch from batch ``skip`` on."""
        loader = self.dataloader
        if skip >= len(loader):
            return ()
        batch_sampler = getattr(loader, 'batch_sampler', None)
        if not isinstance(loader, DataLoader) or batch_sampler is None:
            print_log(
                f'{type(loader).__name__} has no batch sampler to skip '
                f'in: loading and dropping {skip} batches',
                logger='current',
                level=logging.WARNING)
            return self._drop_loaded(skip)
        if not isinstance(batch_sampler, SkippableBatchSampler):
            batch_sampler = SkippableBatchSampler(batch_sampler)
            # DataLoader forbids setting batch_sampler once built; its
            # iterators read it through ``_index_sampler`` at every pass
            object.__setattr__(loader, 'batch_sampler', batch_sampler)
            iterator = getattr(loader, '_iterator', None)  # persistent
            if iterator is not None:
                iterator._index_sampler = batch_sampler
        batch_sampler.skip(skip)
        return loader

    def _drop_loaded(self, skip: int):
        for idx, data_batch in enumerate(self.dataloader):
            if idx >= skip:
                yield data_batch
