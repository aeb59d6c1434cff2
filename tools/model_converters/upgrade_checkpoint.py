"""Rewrite a trusted old checkpoint so torch's safe loader can read it.

    python tools/model_converters/upgrade_checkpoint.py OLD.pth NEW.pth

Checkpoints written by plain mmengine (or by this project before its
HistoryBuffer fix) pickle bound methods and need ``builtins.getattr``, which
the safe loader refuses and this project never allow-lists. This tool loads
OLD with the full unpickler — only do this for a file from a source you
trust — and saves it again after ``import mmdet_csod``, so that NEW loads with
``torch.load(NEW, weights_only=True)``. It then checks exactly that.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

from mmdet_csod.utils import load_trusted_checkpoint  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='the old checkpoint (trusted source)')
    parser.add_argument('dst', help='the rewritten checkpoint')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if osp.abspath(args.src) == osp.abspath(args.dst):
        raise SystemExit('src and dst must differ')
    ckpt = load_trusted_checkpoint(args.src)
    torch.save(ckpt, args.dst)
    torch.load(args.dst, map_location='cpu', weights_only=True)
    print(f'wrote {args.dst}: loads with weights_only=True')


if __name__ == '__main__':
    main()
