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

Checkpoints written before that fix still name ``getattr``: convert them once
with ``tools/model_converters/upgrade_checkpoint.py``, which reads them with
a restricted unpickler (:mod:`mmdet_csod.utils.restricted_pickle`) that
builds only what an mmengine checkpoint holds. ``weights_only`` is never
turned off globally.

3. wraps mmengine's ``CheckpointLoader.load_checkpoint``, through which
   ``load_from``, ``--resume``, ``tools/test.py`` and ``init_cfg``
   (``Pretrained``) all load, so that a file it cannot load is an error that
   names the file and says why (:func:`explain_load_failure`): the global the
   safe loader refused, with the upgrade tool only for what looks like an old
   mmengine checkpoint the tool can convert; or a truncated file, or one that
   is no checkpoint at all.

:func:`check_checkpoint_fits` makes a checkpoint that does not fit the model
(missing or unexpected keys, other shapes) an error naming the checkpoint, the
config and the first keys (``CheckpointFitHook`` runs it for the Runner).
"""
import functools
import os.path as osp
import pickle
import re
import warnings
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from .restricted_pickle import HISTORY_BUFFER, is_allowed, scan_checkpoint

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
    found = [_reconstruct, scalar, np.ndarray, np.dtype] + dtype_classes
    if _reconstruct.__module__ != 'numpy.core.multiarray':
        # files written with numpy 1.x name numpy.core.multiarray
        found += [(_reconstruct, 'numpy.core.multiarray._reconstruct'),
                  (scalar, 'numpy.core.multiarray.scalar')]
    return found


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
    _wrap_mmengine_checkpoint_loader()
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


# ------------------------------------------------- errors that name the file
class CheckpointError(RuntimeError):
    """A checkpoint cannot be used; the message names the file."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """The safe loader refused a global the file names."""

    def __init__(self, message: str, refused: str = '') -> None:
        super().__init__(message)
        self.refused = refused


class CorruptCheckpointError(CheckpointError):
    """Truncated, or not a checkpoint at all."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint whose state dict does not fit the model."""


UPGRADE_TOOL = 'tools/model_converters/upgrade_checkpoint.py'
_REFUSED = re.compile(r'GLOBAL ([\w.]+)')


def _first_line(exc: BaseException) -> str:
    """torch's reason, without its advice: the WeightsUnpickler line of a
    safe-loader error, else the first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = next((line for line in lines if 'Unpickler error:' in line),
                  lines[0] if lines else '')
    # the first sentence: what follows is torch's generic advice
    reason = re.split(r'(?<=[.!]) ', reason, maxsplit=1)[0]
    return f'{type(exc).__name__}: {reason}'


def explain_load_failure(filename: str,
                         exc: BaseException) -> Optional[CheckpointError]:
    """The error to raise instead of ``exc``, which loading ``filename``
    raised; None to let ``exc`` through (a missing file: mmengine's message
    names it).

    The file is only read as opcodes (:func:`scan_checkpoint`), never
    unpickled.
    """
    if isinstance(exc, (FileNotFoundError, CheckpointError)):
        return None
    path = osp.expanduser(str(filename))
    if not osp.isfile(path):
        if isinstance(exc, (pickle.UnpicklingError, RuntimeError, EOFError)):
            return CorruptCheckpointError(f'{filename}: cannot be loaded as '
                                          f'a checkpoint: {_first_line(exc)}')
        return None
    scan = scan_checkpoint(path)
    if scan.kind == 'truncated':
        return CorruptCheckpointError(
            f'{filename}: truncated: it starts as a torch.save zip archive '
            'but is incomplete (an interrupted save or copy?) '
            f'({scan.error}; torch: {_first_line(exc)})')
    if scan.kind == 'not-a-checkpoint':
        return CorruptCheckpointError(
            f'{filename}: not a checkpoint (neither a torch.save zip archive '
            f'nor torch\'s legacy format: {scan.error})')
    match = _REFUSED.search(str(exc))
    beyond = [g for g in scan.globals if not is_allowed(g)]
    if not isinstance(exc, pickle.UnpicklingError) or (match is None
                                                       and not beyond):
        return CorruptCheckpointError(f'{filename}: cannot be loaded as a '
                                      f'checkpoint: {_first_line(exc)}')
    refused = match.group(1) if match else beyond[0]
    # torch names builtins bare ('getattr'): the file's own spelling
    refused = next(
        (g for g in scan.globals if g == refused or g.endswith('.' + refused)),
        refused)
    looks_mmengine = (
        HISTORY_BUFFER in scan.globals or 'message_hub' in scan.strings
        or {'meta', 'state_dict'} <= scan.strings)
    head = (f'{filename}: the safe loader (torch.load with '
            f'weights_only=True) refused the global {refused}')
    if looks_mmengine and not beyond:
        return UnsafeCheckpointError(
            f'{head}. The file looks like a checkpoint of plain mmengine, or '
            'of this project before its HistoryBuffer fix, which stores '
            'HistoryBuffer\'s statistics methods with builtins.getattr. '
            'Convert it once (it is read with a restricted unpickler that '
            'builds only what such a checkpoint holds):\n'
            f'  python {UPGRADE_TOOL} {filename} NEW.pth', refused)
    others = [g for g in beyond if g != refused]
    also = f' (and also names {", ".join(others[:5])})' if others else ''
    note = (' It looks like an mmengine checkpoint, but no mmengine '
            'checkpoint holds these globals, and the upgrade tool refuses '
            'them too.' if looks_mmengine else
            ' No checkpoint of mmengine or of this project holds it.')
    return UnsafeCheckpointError(
        f'{head}{also}.{note} Do not load this file with weights_only=False '
        f'unless you trust its source and know why it holds {refused}.',
        refused)


# The file each checkpoint dict the wrapped loader returned came from (the
# latest only): Runner.load_checkpoint hands hooks the dict, not its name.
_LAST_LOADED: dict = {}


def checkpoint_source(checkpoint: Any) -> Optional[str]:
    """The file the wrapped loader read ``checkpoint`` from (latest load)."""
    if _LAST_LOADED.get('id') == id(checkpoint):
        return _LAST_LOADED.get('filename')
    return None


def _wrap_mmengine_checkpoint_loader() -> None:
    from mmengine.runner.checkpoint import CheckpointLoader
    original = CheckpointLoader.__dict__['load_checkpoint'].__func__
    if getattr(original, '_mmdet_csod_wrapped', False):
        return

    @functools.wraps(original)
    def load_checkpoint(cls, filename, map_location=None, logger='current'):
        try:
            checkpoint = original(cls, filename, map_location, logger)
        except Exception as exc:
            error = explain_load_failure(filename, exc)
            if error is None:
                raise
            error.torch_error = exc  # torch's own message, for debugging
            # from None: torch's advice (weights_only=False) is the same for
            # an honest old file and a malicious one
            raise error from None
        _LAST_LOADED.update(id=id(checkpoint), filename=str(filename))
        return checkpoint

    load_checkpoint._mmdet_csod_wrapped = True
    CheckpointLoader.load_checkpoint = classmethod(load_checkpoint)


# --------------------------------------------- does the checkpoint fit?
def _unwrap_model(model):
    from mmengine.model import BaseTTAModel, is_model_wrapper
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def _first(keys: Sequence[str], n: int) -> str:
    shown = ', '.join(keys[:n])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > n else '')


def checkpoint_mismatch(
    model: torch.nn.Module,
    checkpoint: Any,
    revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), )
) -> Tuple[List[str], List[str], List[Tuple[str, tuple, tuple]]]:
    """``(missing, unexpected, shape_mismatches)`` of loading
    ``checkpoint`` (a checkpoint dict or a state dict) into ``model`` as
    mmengine does: ``state_dict`` taken out, ``revise_keys`` applied, model
    wrappers and TTA models unwrapped, ``num_batches_tracked`` not missed.
    """
    state = checkpoint
    if isinstance(state, dict) and 'state_dict' in state:
        state = state['state_dict']
    if not isinstance(state, dict):
        raise CheckpointMismatchError(
            f'holds no state dict (a {type(state).__name__})')
    for pattern, repl in revise_keys:
        state = {re.sub(pattern, repl, k): v for k, v in state.items()}
    own = _unwrap_model(model).state_dict()
    missing = [
        k for k in own if k not in state and 'num_batches_tracked' not in k
    ]
    unexpected = [k for k in state if k not in own]
    shapes = [(k, tuple(state[k].shape), tuple(v.shape))
              for k, v in own.items() if k in state
              and hasattr(state[k], 'shape') and state[k].shape != v.shape]
    return missing, unexpected, shapes


def check_checkpoint_fits(model: torch.nn.Module,
                          checkpoint: Any,
                          filename: str,
                          config: Optional[str] = None,
                          flag: str = '--allow-partial or load_from_partial'
                          '=True',
                          max_keys: int = 5) -> None:
    """Raise :class:`CheckpointMismatchError` unless every key of the model
    is in the checkpoint with its shape, and nothing else is.

    The message names the checkpoint, the config, the first ``max_keys``
    keys of each kind, the run that wrote the checkpoint (its
    ``meta.experiment_name``) and ``flag``, the explicit way to load it
    partially.
    """
    try:
        missing, unexpected, shapes = checkpoint_mismatch(model, checkpoint)
    except CheckpointMismatchError as exc:
        raise CheckpointMismatchError(f'{filename}: {exc}') from None
    if not (missing or unexpected or shapes):
        return
    parts = []
    if missing:
        parts.append(f'{len(missing)} key(s) of the model missing from the '
                     f'checkpoint: {_first(missing, max_keys)}')
    if unexpected:
        parts.append(f'{len(unexpected)} unexpected key(s): '
                     f'{_first(unexpected, max_keys)}')
    if shapes:
        shown = '; '.join(f'{k}: {a} in the checkpoint, {b} in the model'
                          for k, a, b in shapes[:max_keys])
        more = f' ({len(shapes)} in all)' if len(shapes) > max_keys else ''
        parts.append(f'{len(shapes)} shape mismatch(es): {shown}{more}')
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    run = meta.get('experiment_name') if isinstance(meta, dict) else None
    written = f' (written by run {run})' if run else ''
    where = f'the model of {config}' if config else 'the model'
    raise CheckpointMismatchError(
        f'checkpoint {filename}{written} does not fit {where}:\n  - ' +
        '\n  - '.join(parts) + '\nIt may be a checkpoint of another model. '
        f'To load the keys that fit and leave the rest as initialised, say '
        f'so explicitly: {flag}.')
