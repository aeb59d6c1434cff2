"""Random states in checkpoints, so that a resumed run trains as if never
stopped."""
from typing import Optional

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from ..runner.random_states import get_random_states, set_random_states
from ..runner.samplers import ResumableBatchSampler


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the random generators' states with every checkpoint; on
    ``--resume``, train on from them.

    A checkpoint gets ``random_states``: the states of Python's ``random``,
    numpy's and torch's generators (CPU, and every CUDA device when CUDA is
    in use; see ``get_random_states``), as tensors and numbers that load
    with ``weights_only=True``. With a :class:`ResumableBatchSampler` in the
    training data loader it also gets ``batch_sampler``: the sampler's seed,
    which the shuffle order and the seed of every batch's loading (in the
    data loader's workers or in the process) derive from, together with the
    epoch, the rank and the batch's index. The workers' own seeds (torch's
    base seed, mmengine's ``worker_init_fn``) are then not needed: a seeded
    batch reseeds the process that loads it.

    On resume (a checkpoint loaded and ``runner.iter > 0`` when training
    starts; ``load_from`` leaves the generators alone) the sampler's seed is
    restored at ``before_train`` and the generators' states are handed to
    the train loop's ``resume_random_states`` (``ResumableEpochBasedTrainLoop``
    sets them at the point they were taken at); another loop gets them set
    at ``before_train``. A checkpoint without them (saved before this hook
    existed) resumes with a warning.
    """
    priority = 'NORMAL'

    def __init__(self) -> None:
        self._loaded: Optional[dict] = None

    @staticmethod
    def _batch_sampler(runner) -> Optional[ResumableBatchSampler]:
        loader = getattr(runner.train_loop, 'dataloader', None)
        sampler = getattr(loader, 'batch_sampler', None)
        return sampler if isinstance(sampler, ResumableBatchSampler) else None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add the generators' states and the batch sampler's seed."""
        checkpoint['random_states'] = get_random_states()
        sampler = self._batch_sampler(runner)
        if sampler is not None:
            checkpoint['batch_sampler'] = sampler.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep what the checkpoint holds until training starts (a resume
        or a ``load_from``: only then is it known)."""
        self._loaded = dict(
            random_states=checkpoint.get('random_states'),
            batch_sampler=checkpoint.get('batch_sampler'))

    def before_train(self, runner) -> None:
        """On a resume, restore the sampler's seed and hand over (or set)
        the generators' states."""
        loaded, self._loaded = self._loaded, None
        if loaded is None or runner.iter == 0:
            return
        sampler = self._batch_sampler(runner)
        if sampler is not None and loaded['batch_sampler'] is not None:
            sampler.load_state_dict(loaded['batch_sampler'])
        states = loaded['random_states']
        if states is None:
            runner.logger.warning(
                'the checkpoint holds no random states (saved without '
                'RandomStateHook): the resumed run draws other random '
                'numbers than an uninterrupted one would')
            return
        devices = torch.cuda.device_count() if torch.cuda.is_available() \
            else 0
        if 'torch_cuda' in states and len(states['torch_cuda']) != devices:
            runner.logger.warning(
                f'the checkpoint holds {len(states["torch_cuda"])} CUDA '
                'random states, not one per CUDA device in use here: the '
                'CUDA generators are not restored')
        resume = getattr(runner.train_loop, 'resume_random_states', None)
        if resume is not None:
            resume(states)
        else:
            set_random_states(states)
