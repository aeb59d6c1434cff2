"""Strip a training checkpoint down to what inference needs, and name it.

    python tools/model_converters/publish_model.py IN.pth OUT[.pth]

Keeps only ``meta`` (plain data: dataset_meta, versions, epoch and iter,
seed, experiment name, config text, ...) and ``state_dict``; the optimizer,
the parameter schedulers and the message hub are dropped. The result is
written to ``OUT-<first 8 hex digits of its sha256>.pth``, whose path is
printed, and loads with ``torch.load(path, weights_only=True)`` without any
allow-listed globals.

IN is read with torch's safe loader (after ``import mmdet_csod``, which
allow-lists what this project's checkpoints need). A checkpoint written by
plain mmengine must first go through ``upgrade_checkpoint.py``.
"""
import argparse
import io
import hashlib
import os
import os.path as osp
import pickle
import sys
import tempfile
from collections import OrderedDict

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import mmdet_csod  # noqa: E402,F401  allow-lists the checkpoint's globals

_PLAIN = (str, int, float, bool, type(None))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('in_file', help='the training checkpoint')
    parser.add_argument(
        'out_file',
        help='output name; "-<sha256[:8]>.pth" is appended '
        '(a trailing .pth is stripped first)')
    return parser.parse_args(argv)


class _Drop:
    """Marks a value :func:`plain_data` leaves out."""


_DROP = _Drop()


def plain_data(value, dropped=None, key='meta'):
    """``value`` as built-in data only; what is not is left out.

    numpy scalars and arrays become Python numbers and lists, tensors are
    kept (the safe loader reads them). The names of what was left out are
    appended to ``dropped``; at the top level the result is then ``_DROP``.
    """
    dropped = [] if dropped is None else dropped
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, (list, tuple)):
        items = [
            plain_data(v, dropped, f'{key}[{i}]') for i, v in enumerate(value)
        ]
        items = [v for v in items if v is not _DROP]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = plain_data(v, dropped, f'{key}.{k}')
            if not isinstance(k, _PLAIN):
                dropped.append(f'{key}[{k!r}]')
            elif v is not _DROP:
                out[k] = v
        return out
    dropped.append(f'{key} ({type(value).__name__})')
    return _DROP


def strip_checkpoint(ckpt, src='checkpoint'):
    """``{'meta': ..., 'state_dict': ...}`` of a training checkpoint."""
    if not isinstance(ckpt, dict) or 'state_dict' not in ckpt:
        raise KeyError(f'{src}: no state_dict in this checkpoint')
    state_dict = ckpt['state_dict']
    if not isinstance(state_dict, dict) or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise TypeError(f'{src}: state_dict is not a dict of tensors')
    dropped = []
    meta = plain_data(dict(ckpt.get('meta') or {}), dropped)
    for name in dropped:
        print(f'{src}: left out {name}: not plain data', file=sys.stderr)
    state_dict = OrderedDict(
        (k, v.detach().cpu()) for k, v in state_dict.items())
    return dict(meta=meta, state_dict=state_dict)


def check_loads_without_allow_list(path):
    """Raise if ``path`` needs any global outside torch's own safe set."""
    allowed = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        if unsafe:
            raise RuntimeError(f'{path}: needs non-default globals {unsafe}')
        torch.load(path, map_location='cpu', weights_only=True)
    finally:
        torch.serialization.add_safe_globals(allowed)


def sha256_of(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def publish(in_file, out_file):
    """Write the stripped checkpoint; return its final path."""
    if not osp.isfile(in_file):
        raise FileNotFoundError(f'checkpoint not found: {in_file}')
    try:
        ckpt = torch.load(in_file, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        raise RuntimeError(
            f'{in_file}: torch\'s safe loader refused it (a plain mmengine '
            'checkpoint? convert it with upgrade_checkpoint.py first): '
            f'{e}') from e
    published = strip_checkpoint(ckpt, in_file)
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    out_dir = osp.dirname(osp.abspath(stem))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=out_dir, prefix='.publish-', suffix='.pth.tmp')
    os.close(fd)
    try:
        # through a buffer: torch.save names the zip records after the
        # file it writes, and the temporary name would make the bytes (and
        # the sha256 in the name) differ from one publication to the next
        buffer = io.BytesIO()
        torch.save(published, buffer)
        with open(tmp, 'wb') as f:
            f.write(buffer.getvalue())
        check_loads_without_allow_list(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private
        final = f'{stem}-{sha256_of(tmp)[:8]}.pth'
        os.replace(tmp, final)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return final


def main(argv=None):
    args = parse_args(argv)
    try:
        final = publish(args.in_file, args.out_file)
    except (FileNotFoundError, KeyError, TypeError, RuntimeError) as e:
        raise SystemExit(f'error: {e.args[0] if e.args else e}')
    print(final)
    return final


if __name__ == '__main__':
    main()
