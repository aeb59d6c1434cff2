from .checkpoint import (CheckpointError, CheckpointMismatchError,
                         CorruptCheckpointError, UnsafeCheckpointError,
                         check_checkpoint_fits, checkpoint_mismatch,
                         explain_load_failure, install_safe_checkpoint_support,
                         load_trusted_checkpoint, safe_globals)
from .restricted_pickle import (RefusedGlobalError, RestrictedUnpickler,
                                load_restricted, scan_checkpoint)

__all__ = [
    'CheckpointError', 'CheckpointMismatchError', 'CorruptCheckpointError',
    'RefusedGlobalError', 'RestrictedUnpickler', 'UnsafeCheckpointError',
    'check_checkpoint_fits', 'checkpoint_mismatch', 'explain_load_failure',
    'install_safe_checkpoint_support', 'load_restricted',
    'load_trusted_checkpoint', 'safe_globals', 'scan_checkpoint'
]
