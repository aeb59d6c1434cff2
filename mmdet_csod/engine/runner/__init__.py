from .loops import ResumableEpochBasedTrainLoop
from .random_states import (get_random_states, preserved_random_states,
                            seed_cpu_generators, set_random_states)
from .samplers import ResumableBatchSampler, SeededBatch

__all__ = [
    'ResumableEpochBasedTrainLoop', 'ResumableBatchSampler', 'SeededBatch',
    'get_random_states', 'set_random_states', 'preserved_random_states',
    'seed_cpu_generators'
]
