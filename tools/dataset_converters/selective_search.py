"""Compute Selective Search proposals for an image set (resumable).

Examples::

    # the images of a COCO-style json
    python tools/dataset_converters/selective_search.py \\
        --ann data/VOCdevkit/annotations/voc07_trainval.json \\
        --img-prefix data/VOCdevkit/ \\
        --out data/VOCdevkit/proposals/ss_voc07_trainval.npz --workers 16

    # every image in a folder
    python tools/dataset_converters/selective_search.py \\
        --img-dir data/my_images --out data/my_images_ss.npz

Finished shards are kept in OUT.parts/ while it runs; run the same command
again after an interruption to resume. Keys are '<parent folder>/<file name>'
of each image path, boxes x1, y1, x2, y2 (0-based, x2/y2 exclusive). See
``mmdet_csod/datasets/converters/ss_runner.py``.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmdet_csod.datasets.converters.selective_search import \
    SS_MODES  # noqa: E402
from mmdet_csod.datasets.converters.ss_runner import (  # noqa: E402
    images_from_ann, images_in_dir, run_selective_search)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Selective Search proposals (OpenCV contrib) for every '
        'image of a COCO json or a folder, written as a proposal .npz.')
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument(
        '--ann',
        help='COCO-style json; its images are '
        'IMG_PREFIX/file_name, in json order')
    src.add_argument(
        '--img-dir',
        help='use every image file directly in '
        'this folder, sorted by name')
    parser.add_argument(
        '--img-prefix',
        default='',
        help="with --ann: the folder file_name is relative "
        "to (data_root + data_prefix['img'])")
    parser.add_argument('--out', required=True, help='output .npz file')
    parser.add_argument(
        '--mode',
        choices=SS_MODES,
        default='fast',
        help='Selective Search strategy set (default: fast)')
    parser.add_argument(
        '--max-side',
        type=int,
        default=None,
        help='run on a copy whose longer side is at most '
        'this (boxes are scaled back); default: full size')
    parser.add_argument(
        '--min-size',
        type=int,
        default=2,
        help='drop boxes narrower or lower than this '
        '(default: 2)')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help="seed of OpenCV's pseudo-random ranking of the "
        'boxes, set before every image so runs are '
        'reproducible (default: 0)')
    parser.add_argument(
        '--workers', type=int, default=1, help='worker processes (default: 1)')
    parser.add_argument(
        '--shard-size',
        type=int,
        default=100,
        help='images per shard written to OUT.parts/ '
        '(the unit of resuming; default: 100)')
    parser.add_argument(
        '--keep-parts',
        action='store_true',
        help='keep OUT.parts/ after the final merge')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)
    if args.img_prefix and not args.ann:
        parser.error('--img-prefix goes with --ann')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.ann:
        paths = images_from_ann(args.ann, args.img_prefix)
    else:
        paths = images_in_dir(args.img_dir)
    stats = run_selective_search(
        paths,
        args.out,
        mode=args.mode,
        max_side=args.max_side,
        min_size=args.min_size,
        seed=args.seed,
        workers=args.workers,
        shard_size=args.shard_size,
        keep_parts=args.keep_parts,
        progress=not args.no_progress)
    print(f'{args.out}: {stats["images"]} images, {stats["boxes"]} boxes '
          f'({stats["reused_shards"]} of {stats["shards"]} shards reused '
          'from an earlier run)')


if __name__ == '__main__':
    main()
