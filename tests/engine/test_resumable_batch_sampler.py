"""ResumableBatchSampler, SeededBatch, the random-state helpers and
RandomStateHook, in the process (the killed-and-resumed runs are in
test_resume_mid_epoch.py).
"""
import io
import pickle
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler
from torch.utils.data import DataLoader, Dataset

from mmdet_csod.engine import (RandomStateHook, ResumableBatchSampler,
                               ResumableEpochBasedTrainLoop, SeededBatch,
                               get_random_states, set_random_states)
from mmdet_csod.engine.runner import samplers


class _RandomDataset(Dataset):
    """Sample ``i`` is ``(i, python draw, numpy draw, torch draw)``, as an
    augmenting pipeline draws; ``width``/``height`` alternate aspect."""

    def __init__(self, n=12):
        self.n = n

    def __len__(self):
        return self.n

    def get_data_info(self, idx):
        return dict(width=10, height=20 if idx % 3 else 5)

    def __getitem__(self, idx):
        return (idx, random.random(), float(np.random.rand()),
                float(torch.rand(())))


def _loader(num_workers=0, epoch=0, persistent_workers=False, **kwargs):
    dataset = _RandomDataset()
    sampler = DefaultSampler(dataset, shuffle=True, seed=7)
    sampler.set_epoch(epoch)
    batch_sampler = ResumableBatchSampler(sampler, batch_size=2, **kwargs)
    return DataLoader(
        dataset,
        batch_sampler=batch_sampler,
        num_workers=num_workers,
        persistent_workers=persistent_workers,
        collate_fn=list)


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_a_batch_loads_the_same_in_any_process_and_after_a_skip():
    torch.manual_seed(1)
    full = list(_loader())
    # other states before, workers, a pass that starts at batch 2
    torch.manual_seed(2)
    np.random.seed(2)
    assert list(_loader(num_workers=2)) == full
    loader = _loader()
    loader.batch_sampler.skip(2)
    assert list(loader) == full[2:]
    # a worker iterator calls iter() twice as it starts: the pass that
    # draws skips; persistent workers go on with the full epoch after
    loader = _loader(num_workers=2, persistent_workers=True)
    loader.batch_sampler.skip(3)
    assert list(loader) == full[3:]
    assert list(loader) == full
    # draws differ between samples, batches and epochs
    values = [s[1:] for batch in full for s in batch]
    assert len(set(values)) == len(values)
    assert [s[1:] for b in _loader(epoch=1) for s in b] != values


def _load(loader, skip=0):
    """The loop's pass (its iterator made without drawing a base seed)."""
    loop = SimpleNamespace(dataloader=loader)
    return list(ResumableEpochBasedTrainLoop._batches_after(loop, skip))


def test_loading_leaves_the_process_generators_alone():
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    expected = _draws()
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    with_seeds = _load(_loader())
    assert _draws() == expected
    # without seeded batches, loading in the process draws from them
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    plain = _load(_loader(seed_batches=False))
    assert _draws() != expected
    assert [[s[0] for s in b] for b in plain] == \
        [[s[0] for s in b] for b in with_seeds]


def test_skips_batches_not_samples_of_a_grouping_sampler():
    loader = _loader(batch_sampler=dict(type='AspectRatioBatchSampler'))
    full = [[s[0] for s in b] for b in loader]
    order = list(loader.batch_sampler.sampler)  # the samples as drawn
    assert full != [order[i:i + 2] for i in range(0, len(order), 2)]
    for start in range(len(full) + 1):
        loader.batch_sampler.skip(start)
        assert [[s[0] for s in b] for b in loader] == full[start:]
    assert len(loader) == 6


def test_seeded_batch_pickles_without_iterating(monkeypatch):
    batch = SeededBatch([4, 1], seed=11)
    seeded = []
    monkeypatch.setattr(samplers, 'seed_cpu_generators', seeded.append)
    copy = pickle.loads(pickle.dumps(batch))
    assert seeded == []
    assert copy == [4, 1] and copy.seed == 11
    monkeypatch.undo()
    # the seed, not what came before, decides the draws made while iterating
    draws = []
    for _ in range(2):
        random.random()
        draws.append([random.random() for _ in copy])
    assert draws[0] == draws[1]


def test_batch_seeds_depend_on_seed_epoch_rank_and_index():
    sampler = DefaultSampler(_RandomDataset(), shuffle=True, seed=7)
    bs = ResumableBatchSampler(sampler, batch_size=2)
    seeds = {bs.batch_seed(i) for i in range(6)}
    sampler.set_epoch(1)
    seeds |= {bs.batch_seed(i) for i in range(6)}
    sampler.rank = 1
    seeds |= {bs.batch_seed(i) for i in range(6)}
    assert len(seeds) == 18
    assert bs.state_dict() == dict(seed=7)
    bs.load_state_dict(dict(seed=9))
    assert sampler.seed == 9
    with pytest.raises(ValueError):
        bs.skip(-1)


def test_random_states_survive_a_weights_only_checkpoint():
    random.seed(8)
    np.random.seed(8)
    torch.manual_seed(8)
    np.random.randn()  # a cached gaussian in numpy's state
    buffer = io.BytesIO()
    torch.save(dict(random_states=get_random_states()), buffer)
    expected = _draws() + (float(np.random.randn()), )
    buffer.seek(0)
    states = torch.load(buffer, weights_only=True)['random_states']
    set_random_states(states)
    assert _draws() + (float(np.random.randn()), ) == expected


def test_creating_the_iterator_draws_nothing():
    loader = _loader()
    loop = SimpleNamespace(dataloader=loader)
    torch.manual_seed(4)
    iter(loader)  # torch draws the base seed of the workers
    after_plain = torch.get_rng_state()
    torch.manual_seed(4)
    ResumableEpochBasedTrainLoop._batches_after(loop, 0)
    ResumableEpochBasedTrainLoop._batches_after(loop, 2)
    assert torch.equal(torch.get_rng_state(), torch.manual_seed(4).get_state())
    assert not torch.equal(after_plain, torch.get_rng_state())


class _Loop:

    def __init__(self, dataloader):
        self.dataloader, self.handed = dataloader, None

    def resume_random_states(self, states):
        self.handed = states


def test_hook_saves_and_hands_the_states_to_the_loop_on_resume():
    loader = _loader()
    runner = SimpleNamespace(train_loop=_Loop(loader), iter=4)
    hook = RandomStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    assert checkpoint['batch_sampler'] == dict(seed=7)
    expected = _draws()
    loader.batch_sampler.load_state_dict(dict(seed=1))
    hook.after_load_checkpoint(runner, checkpoint)
    hook.before_train(runner)
    assert loader.batch_sampler.sampler.seed == 7
    set_random_states(runner.train_loop.handed)
    assert _draws() == expected
    # load_from (training starts at iteration 0): nothing is restored
    runner = SimpleNamespace(train_loop=_Loop(loader), iter=0)
    hook.after_load_checkpoint(runner, checkpoint)
    hook.before_train(runner)
    assert runner.train_loop.handed is None
