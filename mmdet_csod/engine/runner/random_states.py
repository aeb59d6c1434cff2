"""The process-wide random generators, captured, restored and seeded.

A training process draws from three global generators: Python's ``random``,
numpy's legacy ``np.random`` and torch's default generators (the CPU one and
one per CUDA device). :func:`get_random_states` captures them in a form a
checkpoint keeps under torch's ``weights_only`` loading (tensors, ints,
floats, None: no numpy array, no pickled class), :func:`set_random_states`
puts them back, :func:`preserved_random_states` runs a block without
leaving a trace in them, and :func:`seed_cpu_generators` seeds the CPU ones
(not CUDA's) from one integer.
"""
import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


def _cuda_in_use() -> bool:
    """Whether CUDA has been initialised (its states exist and matter)."""
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def get_random_states(cuda: bool = True) -> dict:
    """The states of the global generators.

    Args:
        cuda (bool): Include the CUDA generators' states when CUDA is in use
            by this process. Defaults to True.

    Returns:
        dict: ``python``, ``numpy`` and ``torch`` (and ``torch_cuda``, a list
        with one state per device), each made of tensors and numbers.
    """
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    states = dict(
        python=dict(
            version=version,
            state=torch.tensor(internal, dtype=torch.int64),
            gauss=gauss),
        numpy=dict(
            name=name,
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached)),
        torch=torch.get_rng_state())
    if cuda and _cuda_in_use():
        states['torch_cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_random_states(states: dict) -> None:
    """Put back states of :func:`get_random_states`.

    The states may have been moved to a GPU by a checkpoint's
    ``map_location``; they are read back on the CPU. The CUDA states are set
    when CUDA is available and the states hold one per visible device;
    otherwise the CUDA generators are left as they are.

    Args:
        states (dict): What :func:`get_random_states` returned.
    """
    py = states['python']
    random.setstate(
        (int(py['version']), tuple(int(v) for v in py['state'].cpu().tolist()),
         py['gauss']))
    npy = states['numpy']
    np.random.set_state(
        (npy['name'], npy['keys'].cpu().numpy().astype(np.uint32),
         int(npy['pos']), int(npy['has_gauss']),
         float(npy['cached_gaussian'])))
    torch.set_rng_state(states['torch'].cpu())
    cuda = states.get('torch_cuda')
    if (cuda is not None and torch.cuda.is_available()
            and len(cuda) == torch.cuda.device_count()):
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


@contextmanager
def preserved_random_states(cuda: bool = True) -> Iterator[None]:
    """Run a block and put the global generators back as they were.

    Whatever the block draws (a data loader's base seed, a validation
    pass) then does not shift the streams the training draws from.

    Args:
        cuda (bool): Preserve the CUDA generators too. Defaults to True.
    """
    states = get_random_states(cuda=cuda)
    try:
        yield
    finally:
        set_random_states(states)


def seed_cpu_generators(seed: int) -> None:
    """Seed Python's, numpy's and torch's CPU generators with ``seed``.

    Unlike ``torch.manual_seed`` this leaves the CUDA generators alone.

    Args:
        seed (int): A seed in [0, 2**32).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.default_generator.manual_seed(seed)
