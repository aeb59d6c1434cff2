"""Loading this project's checkpoints with torch's safe loader.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7
does not pass the flag, so ``--resume`` and ``tools/test.py`` unpickle
checkpoints with the safe loader. An mmengine checkpoint stores the message
hub's :class:`~mmengine.logging.HistoryBuffer` objects, which pickled their
statistics methods (``getattr(HistoryBuffer, 'min')`` and the like) and so
needed ``builtins.getattr`` — which is never allow-listed here: it would let a
checkpoint reach any attribute of anything the loader builds.

Instead, :func:`install_safe_checkpoint_support` (run on ``import
mmdet_csod``):

1. gives HistoryBuffer a ``__getstate__`` that leaves its statistics methods
   out (they are class-level defaults, rebuilt by ``__setstate__``), so what
   this project saves needs only plain data and the globals below;
2. allow-lists exactly those globals with
   :func:`torch.serialization.add_safe_globals`: HistoryBuffer and the numpy
   pieces an array or scalar needs.

Checkpoints written before that fix still name ``getattr``: convert them once,
from a source you trust, with ``tools/model_converters/upgrade_checkpoint.py``
(:func:`load_trusted_checkpoint`). ``weights_only`` is never turned off
globally.
"""
import warnings
from typing import Any, List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

_INSTALLED = False
# mmengine's own pickling, which stores the statistics methods; kept so that
# tests can write checkpoints the way unpatched mmengine does.
MMENGINE_GETSTATE = HistoryBuffer.__getstate__
MMENGINE_SETSTATE = HistoryBuffer.__setstate__
# Keys under which HistoryBuffer versions kept their methods.
_METHOD_KEYS = ('statistics_methods', '_statistics_methods')


def _numpy_safe_globals() -> List[Any]:
    """numpy globals an ndarray or numpy scalar pickle refers to."""
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [
        type(np.dtype(t))
        for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                  np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                  np.float64)
    ]
    return [_reconstruct, scalar, np.ndarray, np.dtype] + dtype_classes


def safe_globals() -> List[Any]:
    """The globals allow-listed for torch's safe loader by this project."""
    return [HistoryBuffer] + _numpy_safe_globals()


def _history_buffer_getstate(self: HistoryBuffer) -> dict:
    # Methods are not state: pickling them requires builtins.getattr.
    return {k: v for k, v in self.__dict__.items() if k not in _METHOD_KEYS}


def _history_buffer_setstate(self: HistoryBuffer, state: dict) -> None:
    self.__dict__.update({
        k: v
        for k, v in state.items() if k not in _METHOD_KEYS
    })
    self._set_default_statistics()


def install_safe_checkpoint_support() -> None:
    """Patch HistoryBuffer's pickling and allow-list the harmless globals."""
    global _INSTALLED
    if _INSTALLED:
        return
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    HistoryBuffer.__setstate__ = _history_buffer_setstate
    torch.serialization.add_safe_globals(safe_globals())
    _INSTALLED = True


def load_trusted_checkpoint(path: str, map_location: str = 'cpu') -> dict:
    """Load a checkpoint with the full unpickler, for files you trust.

    Only for checkpoints written before this project's HistoryBuffer fix, or
    by other code bases. Unpickling can run arbitrary code: never use it on a
    file from a source you do not trust. Prefer converting such a file once
    with ``tools/model_converters/upgrade_checkpoint.py``.
    """
    warnings.warn(
        f'loading {path} with weights_only=False: only do this for '
        'files from a trusted source',
        stacklevel=2)
    return torch.load(path, map_location=map_location, weights_only=False)
