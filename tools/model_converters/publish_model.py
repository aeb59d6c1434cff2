"""Strip a training checkpoint down to what inference needs, and name it.

    python tools/model_converters/publish_model.py IN.pth OUT[.pth]
        [--config CONFIG]

Keeps only ``meta`` (plain data: dataset_meta, versions, epoch and iter,
seed, experiment name, config text, ...) and ``state_dict``; the optimizer,
the parameter schedulers and the message hub are dropped. The result is
written to ``OUT-<first 8 hex digits of its sha256>.pth``, whose path is
printed, and loads with ``torch.load(path, weights_only=True)`` without any
allow-listed globals.

The meta carries what inference needs without the dataset
(``tools/infer.py``, mmdet's ``DetInferencer``): ``dataset_meta`` (the
class names, ``base_classes`` and ``novel_classes``), ``cfg`` (the config
text; DetInferencer builds the model and the test pipeline from it when no
config is given) and ``proposal_cfg`` (how the test pipeline computes
proposals for an image that has none, i.e. how the training proposals were
made; None for a model that makes its own). They come from the training
checkpoint's meta and its config text, or from ``--config`` (which then
replaces the config text); what cannot be found is named in a warning.

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
    parser.add_argument(
        '--config',
        help='the config the checkpoint was trained with: its text, class '
        'split and proposal settings go into the meta (default: the config '
        'text in the checkpoint)')
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


def inference_meta(cfg):
    """What inference needs from a config: ``dataset_meta`` (classes with
    their base/novel split; absent when the test dataset names no classes)
    and, when the test pipeline can compute proposals, ``proposal_cfg``
    (None: it computes none). Plain data."""
    from mmdet_csod.datasets.transforms.loading import (check_proposal_cfg,
                                                        proposal_step)
    from mmdet_csod.structures import complete_class_split
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    out = {}
    metainfo = dataset.get('metainfo') or {}
    if metainfo.get('classes'):
        out['dataset_meta'] = plain_data(complete_class_split(metainfo))
    step = proposal_step(dataset.get('pipeline') or [])
    if step is not None:
        out['proposal_cfg'] = check_proposal_cfg(step.get('proposal_cfg'))
    return out


def complete_meta(meta, config=None, src='checkpoint'):
    """``meta`` with ``cfg``, ``dataset_meta`` and ``proposal_cfg`` filled
    in from ``config`` (a config file, whose text replaces ``meta['cfg']``)
    or else from ``meta['cfg']``; the class names already in ``meta`` win
    (they are the model's), missing base/novel lists are added. Whatever
    inference will lack is named on stderr."""
    from mmengine.config import Config

    from mmdet_csod.structures import complete_class_split
    meta = dict(meta)
    cfg = None
    if config is not None:
        if not osp.isfile(config):
            raise FileNotFoundError(f'config not found: {config}')
        cfg = Config.fromfile(config)
        meta['cfg'] = cfg.pretty_text
    elif isinstance(meta.get('cfg'), str):
        try:
            cfg = Config.fromstring(meta['cfg'], file_format='.py')
        except Exception as e:  # an old or foreign config text
            print(f'{src}: the config text in its meta does not parse '
                  f'({type(e).__name__}: {e}); give --config',
                  file=sys.stderr)
    info = inference_meta(cfg) if cfg is not None else {}
    if 'proposal_cfg' in info:
        meta['proposal_cfg'] = info['proposal_cfg']
    elif cfg is not None:
        print(f'{src}: the test pipeline of its config cannot compute '
              'proposals (no LoadOrComputeProposals): inference on new '
              'images needs --config with the current project config',
              file=sys.stderr)
    own = dict(meta.get('dataset_meta') or {})
    if own.get('classes'):
        if 'base_classes' not in own and 'novel_classes' not in own:
            split = info.get('dataset_meta') or {}
            if tuple(split.get('classes', ())) == tuple(own['classes']):
                own.update(base_classes=split['base_classes'],
                           novel_classes=split['novel_classes'])
            else:
                own = plain_data(complete_class_split(own))
        meta['dataset_meta'] = own
    elif 'dataset_meta' in info:
        meta['dataset_meta'] = info['dataset_meta']
    missing = [
        name for name, ok in (
            ('class names (dataset_meta.classes)',
             bool((meta.get('dataset_meta') or {}).get('classes'))),
            ('config text (cfg)', isinstance(meta.get('cfg'), str)),
            ('proposal settings (proposal_cfg)', 'proposal_cfg' in meta))
        if not ok
    ]
    if missing:
        print(f'{src}: the published meta lacks {", ".join(missing)}: '
              'inference will need them from a config; give --config',
              file=sys.stderr)
    return meta


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


def publish(in_file, out_file, config=None):
    """Write the stripped checkpoint, its meta completed for inference from
    ``config`` or its config text (:func:`complete_meta`); return its final
    path."""
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
    published['meta'] = complete_meta(published['meta'], config, in_file)
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
        final = publish(args.in_file, args.out_file, args.config)
    except (FileNotFoundError, KeyError, TypeError, ValueError,
            RuntimeError) as e:
        raise SystemExit(f'error: {e.args[0] if e.args else e}')
    print(final)
    return final


if __name__ == '__main__':
    main()
