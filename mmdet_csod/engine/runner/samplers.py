"""A batch sampler that can start a pass at any batch, with seeded batches.

:class:`ResumableBatchSampler` wraps the batch sampler a config names (or
torch's ``BatchSampler``) and adds what resuming mid-epoch needs:

* ``skip(n)``: the next pass draws the indices of its first ``n`` batches
  and drops them, without loading an image, so the resumed epoch goes on
  with the batches, in the order, of the interrupted one. Skipping happens
  on batches, not on samples: a grouping batch sampler
  (``AspectRatioBatchSampler``) holds samples back in its buckets, so the
  first ``n`` batches are not the first ``n * batch_size`` samples.
* Seeded batches: every batch comes out as a :class:`SeededBatch`, whose
  seed derives from the sampler's seed, the epoch, the rank and the batch's
  index in the epoch. Iterating it (what the data loader's fetcher does to
  load its samples, in a worker or in the main process) seeds Python's,
  numpy's and torch's CPU generators with it and puts the previous states
  back after its last index. A batch's augmentation is then the same
  whichever process loads it and whatever was loaded before it: after a
  resume, with freshly started workers, and with any number of workers
  (0 included, where loading then leaves the training's own random
  streams untouched).
* ``state_dict()`` / ``load_state_dict()``: the sampler's seed, which the
  order and the batch seeds derive from (``RandomStateHook`` keeps it in
  checkpoints; mmengine rebuilds the sampler before it restores the seed of
  a run started with ``randomness.seed=None``).

Configure it around the batch sampler of the training data loader::

    train_dataloader = dict(
        sampler=dict(type='DefaultSampler', shuffle=True),
        batch_sampler=dict(
            type='ResumableBatchSampler',
            batch_sampler=dict(type='AspectRatioBatchSampler')))
"""
from typing import Iterator, List, Optional

import numpy as np
from mmdet.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler, Sampler

from .random_states import (get_random_states, seed_cpu_generators,
                            set_random_states)


class SeededBatch(list):
    """A batch of sample indices whose loading draws from its own seed.

    A ``list`` of indices, as a batch sampler yields; iterating it seeds
    the CPU generators (Python, numpy, torch) with ``seed`` before the first
    index and restores their previous states after the last, so the samples
    are loaded (augmented) with draws that depend on the seed alone. It
    pickles (to a data loader worker) as its indices and seed, without
    being iterated.

    Args:
        indices (list[int]): The sample indices.
        seed (int): The seed of this batch, in [0, 2**32).
    """

    def __init__(self, indices, seed: int) -> None:
        super().__init__(indices)
        self.seed = int(seed)

    def __iter__(self) -> Iterator[int]:
        states = get_random_states(cuda=False)
        seed_cpu_generators(self.seed)
        try:
            yield from list.__iter__(self)
        finally:
            set_random_states(states)

    def __reduce__(self):
        return SeededBatch, (list(list.__iter__(self)), self.seed)

    def __repr__(self) -> str:
        return f'SeededBatch({list.__repr__(self)}, seed={self.seed})'


@DATA_SAMPLERS.register_module()
class ResumableBatchSampler(BatchSampler):
    """Wraps a batch sampler: passes that start at a batch, seeded batches.

    Args:
        sampler (Sampler): The data loader's sampler (mmengine passes it).
            Its ``seed``, ``epoch`` and ``rank`` attributes, where it has
            them (``DefaultSampler``, ``InfiniteSampler``), give the batch
            seeds.
        batch_size (int): Samples a batch (mmengine passes it).
        batch_sampler (dict, optional): Config of the wrapped batch sampler,
            built with ``sampler`` and ``batch_size``, e.g.
            ``dict(type='AspectRatioBatchSampler')``. Defaults to None:
            torch's ``BatchSampler``.
        drop_last (bool): For the default ``BatchSampler`` only: drop a
            last, incomplete batch. Defaults to False.
        seed_batches (bool): Yield :class:`SeededBatch` es (when the sampler
            has a seed). False yields the wrapped sampler's lists. Defaults
            to True.
    """

    def __init__(self,
                 sampler: Sampler,
                 batch_size: int,
                 batch_sampler: Optional[dict] = None,
                 drop_last: bool = False,
                 seed_batches: bool = True) -> None:
        super().__init__(sampler, batch_size, drop_last)
        if batch_sampler is None:
            self.batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        else:
            self.batch_sampler = DATA_SAMPLERS.build(
                batch_sampler,
                default_args=dict(sampler=sampler, batch_size=batch_size))
        self.seed_batches = seed_batches
        self._start = 0

    def skip(self, num_batches: int) -> None:
        """Start the next pass at batch ``num_batches`` (0-based).

        The next pass is the first to draw a batch after the call. The
        indices of the batches before it are drawn from the wrapped batch
        sampler (no sample is loaded) and dropped; the batches after keep
        their index, hence their seed. Later passes start at 0.

        Args:
            num_batches (int): Batches of the pass to leave out.
        """
        if num_batches < 0:
            raise ValueError(f'cannot skip {num_batches} batches')
        self._start = int(num_batches)

    def batch_seed(self, index: int) -> Optional[int]:
        """The seed of batch ``index`` of the current epoch, or None when
        the sampler has no seed (or ``seed_batches`` is off)."""
        seed = getattr(self.sampler, 'seed', None)
        if not self.seed_batches or seed is None:
            return None
        epoch = getattr(self.sampler, 'epoch', 0)
        rank = getattr(self.sampler, 'rank', 0)
        entropy = [int(v) % (1 << 63) for v in (seed, epoch, rank, index)]
        return int(np.random.SeedSequence(entropy).generate_state(1)[0])

    def __iter__(self) -> Iterator[List[int]]:
        # the skip goes to the first pass that draws a batch, not to the
        # first iter(): a worker-process iterator calls iter() twice when
        # it starts and draws from the second
        start, self._start = self._start, 0
        for index, batch in enumerate(self.batch_sampler):
            if index < start:
                continue
            seed = self.batch_seed(index)
            yield batch if seed is None else SeededBatch(batch, seed)

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def state_dict(self) -> dict:
        """What the order and the batch seeds derive from: the sampler's
        seed (None when it has none)."""
        return dict(seed=getattr(self.sampler, 'seed', None))

    def load_state_dict(self, state: dict) -> None:
        """Take the sampler's seed from a :meth:`state_dict`."""
        seed = state.get('seed')
        if seed is not None and hasattr(self.sampler, 'seed'):
            self.sampler.seed = int(seed)
