"""Rewrite an old mmengine checkpoint so torch's safe loader can read it.

    python tools/model_converters/upgrade_checkpoint.py OLD.pth NEW.pth

Checkpoints written by plain mmengine (or by this project before its
HistoryBuffer fix) pickle HistoryBuffer's statistics methods with
``builtins.getattr``, which the safe loader refuses and this project never
allow-lists. This tool reads OLD with a restricted unpickler
(:mod:`mmdet_csod.utils.restricted_pickle`) that builds exactly what an
mmengine checkpoint holds — tensors, OrderedDict / Counter, HistoryBuffer
and its numpy arrays, and ``getattr`` only for HistoryBuffer's statistics
methods — and refuses any other global, naming it, before anything is
called: a crafted file runs nothing. It then saves the checkpoint again
after ``import mmdet_csod`` (HistoryBuffer without its methods), so that NEW
loads with ``torch.load(NEW, weights_only=True)``, and checks exactly that.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

import mmdet_csod  # noqa: E402,F401  HistoryBuffer pickles without methods
from mmdet_csod.utils import (  # noqa: E402
    CorruptCheckpointError,
    RefusedGlobalError,
    load_restricted,
    scan_checkpoint)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='the old checkpoint')
    parser.add_argument('dst', help='the rewritten checkpoint')
    return parser.parse_args(argv)


def upgrade(src: str, dst: str) -> dict:
    """Read ``src`` with the restricted unpickler, write ``dst`` loadable
    with ``weights_only=True``; returns the checkpoint."""
    if osp.abspath(src) == osp.abspath(dst):
        raise SystemExit('src and dst must differ')
    if not osp.isfile(src):
        raise FileNotFoundError(f'{src} not found')
    scan = scan_checkpoint(src)
    if scan.kind in ('truncated', 'not-a-checkpoint'):
        raise CorruptCheckpointError(f'{src}: not a readable checkpoint '
                                     f'({scan.kind}: {scan.error})')
    try:
        ckpt = load_restricted(src)
    except RefusedGlobalError as exc:
        raise RefusedGlobalError(
            exc.global_name, f'; {src} refused, nothing written: an mmengine '
            'checkpoint holds only tensors, containers, HistoryBuffer and '
            'numpy arrays') from None
    tmp = f'{dst}.tmp'
    try:
        torch.save(ckpt, tmp)
        torch.load(tmp, map_location='cpu', weights_only=True)
        os.replace(tmp, dst)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return ckpt


def main(argv=None):
    args = parse_args(argv)
    upgrade(args.src, args.dst)
    print(f'wrote {args.dst}: loads with weights_only=True')


if __name__ == '__main__':
    main()
