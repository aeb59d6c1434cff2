"""Make the generated ("synthetic") cross-supervised detection data set.

Example::

    python tools/dataset_converters/make_synthetic.py --out data/synthetic \\
        --num-train 2000 --num-val 500 --seed 0

Writes ``OUT/annotations/{train,val}.json`` (COCO, every box of every class),
``OUT/{train,val}/NNNNNN.jpg`` and Selective Search proposals
``OUT/proposals/ss_{train,val}.npz``. The output depends on the seed, the
sizes, ``--ss-max-side``, ``--cart-loads`` and ``--family`` only, not on
``--workers``. See ``mmdet_csod/synthetic/`` for what the scenes hold;
``--family yard`` draws the second scene family (other classes, shapes and
configurations: ``mmdet_csod/synthetic/yard_scene.py``), whose json's
categories are its classes.
"""
import argparse
import os
import os.path as osp
import sys
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmdet_csod.synthetic import (DEFAULT_SS_MAX_SIDE,  # noqa: E402
                                  FAMILIES, generate_dataset)


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(
            f'expected an integer >= 0, got {text}')
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(
            f'expected an integer >= 1, got {text}')
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the synthetic CSOD data set (images, COCO '
        'jsons and Selective Search proposals).')
    parser.add_argument(
        '--out',
        default='data/synthetic',
        help='output folder (default: data/synthetic)')
    parser.add_argument(
        '--num-train',
        type=_positive,
        default=2000,
        help='training images (default: 2000)')
    parser.add_argument(
        '--num-val',
        type=_positive,
        default=500,
        help='validation images (default: 500)')
    parser.add_argument(
        '--seed',
        type=_non_negative,
        default=0,
        help='random seed (default: 0)')
    parser.add_argument(
        '--workers',
        type=_positive,
        default=os.cpu_count(),
        help='processes (default: the number of CPUs); the '
        'output does not depend on it')
    parser.add_argument(
        '--ss-max-side',
        type=_non_negative,
        default=DEFAULT_SS_MAX_SIDE,
        help='Selective Search runs on a copy whose longer '
        'side is at most this, 0 = full size (default: '
        f'{DEFAULT_SS_MAX_SIDE})')
    parser.add_argument(
        '--cart-loads',
        action='store_true',
        help='carts may carry a bottle (a base-class carrier and its load, '
        'as a horse carries its rider)')
    parser.add_argument(
        '--family',
        choices=sorted(FAMILIES),
        default='default',
        help="scene family: 'default' (the README's benchmarks) or 'yard' "
        '(other classes, shapes and configurations, for checking a method '
        'on scenes it was not developed on: mmdet_csod/synthetic/'
        'yard_scene.py; configs/_base_/datasets/synthetic-yard_csod.py)')
    parser.add_argument(
        '--quiet', action='store_true', help='no progress output')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.cart_loads and args.family != 'default':
        sys.exit(f'--cart-loads is an option of the default family, not of '
                 f'--family {args.family}')
    t0 = time.time()
    cocos = generate_dataset(
        args.out,
        num_train=args.num_train,
        num_val=args.num_val,
        seed=args.seed,
        workers=args.workers,
        ss_max_side=args.ss_max_side or None,
        progress=not args.quiet,
        cart_loads=args.cart_loads,
        family=args.family)
    for split, coco in cocos.items():
        print(f'{split}: {len(coco["images"])} images, '
              f'{len(coco["annotations"])} boxes')
    print(f'wrote {args.out} in {time.time() - t0:.1f}s')


if __name__ == '__main__':
    main()
