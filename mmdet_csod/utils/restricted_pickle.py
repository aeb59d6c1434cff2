"""An unpickler that builds exactly what an mmengine checkpoint holds.

What a checkpoint of mmengine 0.10.7 (``Runner.save_checkpoint``: meta,
state_dict, optimizer, param_schedulers, message_hub) names, read from real
files written by a Runner (plain mmengine, and this project's):

- ``collections.OrderedDict`` (state dicts), ``collections.Counter``
  (``MultiStepLR``'s milestones);
- torch's tensor rebuilding: ``torch._utils._rebuild_tensor_v2`` and the
  other rebuild functions, storages (``torch.FloatStorage`` ...), dtypes,
  ``torch.Size``, ``torch.device``;
- ``mmengine.logging.history_buffer.HistoryBuffer`` (the message hub's
  scalars), whose arrays and scalars name ``numpy._core.multiarray.
  _reconstruct`` / ``scalar``, ``numpy.ndarray``, ``numpy.dtype`` and
  ``_codecs.encode`` (bytes in pickle protocol 2);
- only in files of plain mmengine: ``builtins.getattr``, applied to
  ``HistoryBuffer`` to store its statistics methods (``min``, ``max``,
  ``current``, ``mean``).

:class:`RestrictedUnpickler` resolves these names and refuses every other
global, naming it (``posix.system`` ...) before anything is called:
``getattr`` is replaced by a function that only returns HistoryBuffer's
statistics methods, ``_codecs.encode`` by one that only encodes latin-1
(what pickle protocol 2 writes bytes with). :func:`scan_pickle_globals`
lists the globals a pickle names without running it.
"""
import _compat_pickle
import codecs
import io
import pickle
import pickletools
import types
import zipfile
from typing import Any, Dict, List, NamedTuple, Optional, Set, Tuple

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

HISTORY_BUFFER = 'mmengine.logging.history_buffer.HistoryBuffer'
# HistoryBuffer's default statistics (mmengine's _set_default_statistics).
STATISTICS_METHODS = ('min', 'max', 'current', 'mean')
TORCH_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c


class RefusedGlobalError(pickle.UnpicklingError):
    """A pickle named a global outside the allow-list."""

    def __init__(self, name: str, why: str = '') -> None:
        self.global_name = name
        super().__init__(
            f'refused global {name}: not something an mmengine checkpoint '
            f'holds{why}')


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as plain mmengine pickles it: a statistics method of
    HistoryBuffer, nothing else."""
    allowed = set(STATISTICS_METHODS) | set(
        getattr(HistoryBuffer, '_statistics_methods', {}))
    if (obj is HistoryBuffer or type(obj) is HistoryBuffer) and \
            isinstance(name, str) and name in allowed:
        return getattr(obj, name)
    raise RefusedGlobalError(
        'builtins.getattr', f' (getattr({obj!r:.60}, {name!r:.60}): only '
        f'HistoryBuffer\'s statistics methods {sorted(allowed)})')


def _latin1_encode(obj: str, encoding: str = 'utf-8', errors='strict'):
    """``_codecs.encode`` as pickle protocol 2 stores bytes."""
    if codecs.lookup(encoding).name != 'iso8859-1':
        raise RefusedGlobalError('_codecs.encode',
                                 f' (encoding {encoding!r}: only latin-1)')
    return codecs.encode(obj, encoding, errors)


def _numpy_globals() -> Dict[str, Any]:
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    found = {'numpy.ndarray': np.ndarray, 'numpy.dtype': np.dtype}
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        # either spelling, whichever numpy wrote the file
        found[f'{module}._reconstruct'] = multiarray._reconstruct
        found[f'{module}.scalar'] = multiarray.scalar
    for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
              np.uint16, np.uint32, np.uint64, np.float16, np.float32,
              np.float64):
        cls = type(np.dtype(t))
        found[f'{cls.__module__}.{cls.__name__}'] = cls
    return found


def _torch_globals() -> Dict[str, Any]:
    """torch's own list for tensors (what ``weights_only=True`` builds)."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals
        return {
            k: v
            for k, v in _get_allowed_globals().items()
            if k.startswith('torch.')
        }
    except ImportError:  # torch without it: the rebuild functions by hand
        import torch._utils as tu
        found = {
            f'torch._utils.{n}': getattr(tu, n)
            for n in dir(tu) if n.startswith('_rebuild_')
        }
        found.update({
            'torch.Size':
            torch.Size,
            'torch.device':
            torch.device,
            'torch.nn.parameter.Parameter':
            torch.nn.Parameter,
            'torch.serialization._get_layout':
            torch.serialization._get_layout,
            'torch._tensor._rebuild_from_type_v2':
            torch._tensor._rebuild_from_type_v2,
        })
        for t in torch.storage._dtype_to_storage_type_map():
            found[str(t)] = t
        return found


_ALLOWED: Optional[Dict[str, Any]] = None


def allowed_globals() -> Dict[str, Any]:
    """``'module.name'`` -> the object the restricted unpickler returns."""
    global _ALLOWED
    if _ALLOWED is None:
        allowed = _torch_globals()
        allowed.update(_numpy_globals())
        from collections import Counter, OrderedDict
        allowed.update({
            'collections.OrderedDict': OrderedDict,
            'collections.Counter': Counter,
            HISTORY_BUFFER: HistoryBuffer,
            'builtins.getattr': _history_buffer_getattr,
            '_codecs.encode': _latin1_encode,
        })
        _ALLOWED = allowed
    return _ALLOWED


def normalize_global(module: str, name: str) -> str:
    """``module.name`` with Python 2 names mapped as pickle maps them
    (``__builtin__`` -> ``builtins``)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return f'{module}.{name}'


def is_allowed(name: str) -> bool:
    """Whether the restricted unpickler builds global ``name``."""
    return name in allowed_globals() or (name.startswith('torch.')
                                         and name.endswith('Storage'))


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` knows only
    :func:`allowed_globals` and raises :class:`RefusedGlobalError` on any
    other global, before it is imported or called."""

    def find_class(self, module: str, name: str) -> Any:
        full = normalize_global(module, name)
        try:
            return allowed_globals()[full]
        except KeyError:
            raise RefusedGlobalError(full) from None


def _restricted_load(file, **kwargs) -> Any:
    return RestrictedUnpickler(file, **kwargs).load()


def _restricted_loads(data: bytes, **kwargs) -> Any:
    return _restricted_load(io.BytesIO(data), **kwargs)


#: A ``pickle_module`` for ``torch.load``: torch subclasses its Unpickler
#: (storages are torch's ``persistent_load``), zip and legacy formats alike.
restricted_pickle_module = types.ModuleType('mmdet_csod_restricted_pickle')
restricted_pickle_module.Unpickler = RestrictedUnpickler
restricted_pickle_module.load = _restricted_load
restricted_pickle_module.loads = _restricted_loads
restricted_pickle_module.UnpicklingError = pickle.UnpicklingError


def load_restricted(path: str, map_location: Any = 'cpu') -> Any:
    """``torch.load`` of ``path`` through :class:`RestrictedUnpickler`."""
    return torch.load(
        path,
        map_location=map_location,
        pickle_module=restricted_pickle_module,
        weights_only=False)


# ----------------------------------------------------------- static scan
class PickleScan(NamedTuple):
    """What a checkpoint file is, read without unpickling it.

    ``kind``: 'zip' (torch.save), 'legacy' (torch's old format), 'truncated'
    (a zip start without its central directory), 'not-a-checkpoint'.
    """
    kind: str
    globals: List[str]
    strings: Set[str]
    error: str = ''


_STRING_OPS = {
    'SHORT_BINUNICODE', 'BINUNICODE', 'BINUNICODE8', 'UNICODE',
    'SHORT_BINSTRING', 'BINSTRING', 'STRING'
}
_PUT_OPS = {'PUT', 'BINPUT', 'LONG_BINPUT'}
_GET_OPS = {'GET', 'BINGET', 'LONG_BINGET'}


def scan_pickle_globals(stream) -> Tuple[List[str], Set[str]]:
    """Globals (``module.name``, in order of first use) and short strings
    of one pickle in ``stream``, by reading its opcodes only."""
    found, strings, memo = [], set(), {}
    last: List[Any] = [None, None]  # the two latest pushed values
    for op, arg, _ in pickletools.genops(stream):
        value = None
        if op.name in _STRING_OPS:
            value = arg.decode('latin-1') if isinstance(arg, bytes) else arg
            if len(value) <= 64:
                strings.add(value)
        elif op.name in _PUT_OPS:
            memo[arg] = last[-1]
            continue
        elif op.name == 'MEMOIZE':
            memo[len(memo)] = last[-1]
            continue
        elif op.name in _GET_OPS:
            value = memo.get(arg)
        elif op.name == 'GLOBAL':
            module, name = arg.split(' ', 1)
            value = normalize_global(module, name)
        elif op.name == 'STACK_GLOBAL':
            module, name = last
            if isinstance(module, str) and isinstance(name, str):
                value = normalize_global(module, name)
            else:
                value = '<unknown STACK_GLOBAL>'
        if op.name in ('GLOBAL', 'STACK_GLOBAL') and value not in found:
            found.append(value)
        last = [last[-1], value]
    return found, strings


def scan_checkpoint(path: str) -> PickleScan:
    """Classify ``path`` and list the globals its pickles name."""
    try:
        with open(path, 'rb') as f:
            head = f.read(4)
    except OSError as exc:
        return PickleScan('not-a-checkpoint', [], set(), str(exc))
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.endswith('data.pkl')]
                if not names:
                    return PickleScan('not-a-checkpoint', [], set(),
                                      'a zip archive without data.pkl')
                data = z.read(names[0])
            found, strings = scan_pickle_globals(io.BytesIO(data))
            return PickleScan('zip', found, strings)
        except Exception as exc:  # bad member, truncated pickle
            return PickleScan('truncated', [], set(),
                              f'{type(exc).__name__}: {exc}')
    if head.startswith(b'PK\x03\x04'):
        return PickleScan('truncated', [], set(),
                          'a zip archive (torch.save) without its end')
    found, strings = [], set()
    try:
        with open(path, 'rb') as f:
            # the magic number, read as opcodes: nothing is built
            if TORCH_LEGACY_MAGIC not in [
                    arg for _, arg, _ in pickletools.genops(f)
            ]:
                raise ValueError('no torch magic number')
            for _ in range(4):  # protocol, sys info, the object, keys
                g, s = scan_pickle_globals(f)
                found += [x for x in g if x not in found]
                strings |= s
    except Exception as exc:
        if not found:
            return PickleScan('not-a-checkpoint', [], set(),
                              f'{type(exc).__name__}: {exc}')
    return PickleScan('legacy', found, strings)
