"""Export the generated data set as a real user's sources: a COCO json with
boxes of the base classes, a folder of tagged images per novel class and an
OpenImages-style image-level label CSV (the README's tutorial "Add a class
from tagged images").

Example::

    python tools/dataset_converters/export_synthetic_sources.py \\
        data/synthetic --out data/tagged_sources

Writes ``OUT/coco/annotations/base.json`` + ``OUT/coco/images/`` (boxes of
``--box-classes`` only), ``OUT/tagged/<class>/<image>`` (``--folder-classes``)
and ``OUT/oi/image-labels.csv``, ``OUT/oi/class-descriptions.csv`` +
``OUT/oi/train/`` (``--csv-classes``), and ``OUT/export.json``. Images are
copied (``--link symlink`` links them). See ``mmdet_csod/synthetic/export.py``.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmdet_csod.synthetic.export import (LINK_MODES,  # noqa: E402
                                         export_sources, format_summary)

BOX_CLASSES = ('cart', 'bottle', 'sign', 'house', 'kite')
TAG_CLASSES = ('person', 'horse')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export the generated data set (make_synthetic.py) as '
        'a box-annotated COCO json, class folders of tagged images and an '
        'OpenImages-style image-level label CSV.')
    parser.add_argument(
        'data_root', help='the generated data set (e.g. data/synthetic)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--split', default='train', help='generated split (default: train)')
    parser.add_argument(
        '--box-classes',
        nargs='+',
        default=list(BOX_CLASSES),
        help='classes boxed in the COCO json; every other box is removed '
        '(default: the five base classes)')
    parser.add_argument(
        '--folder-classes',
        nargs='+',
        default=list(TAG_CLASSES),
        help='classes of the tagged-image folders OUT/tagged/<class>/ '
        '(default: person horse)')
    parser.add_argument(
        '--csv-classes',
        nargs='+',
        default=list(TAG_CLASSES),
        help='classes of the OpenImages-style CSV (default: person horse)')
    parser.add_argument(
        '--shares',
        nargs=3,
        type=int,
        default=[2, 1, 1],
        metavar=('BOXES', 'FOLDERS', 'CSV'),
        help='images dealt in turn to the box json, the folders and the CSV '
        '(default: 2 1 1); no image is in two sources')
    parser.add_argument(
        '--csv-negative-share',
        type=float,
        default=1.0,
        help='share of the absent (image, class) pairs written to the CSV '
        'as verified absent (Confidence 0); the others get no row '
        '(default: 1)')
    parser.add_argument(
        '--link',
        choices=LINK_MODES,
        default='copy',
        help="'copy' the images (default) or 'symlink' them (absolute "
        'links: the generated set must then stay where it is)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the CSV negatives')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = export_sources(
            args.data_root,
            args.out,
            box_classes=args.box_classes,
            folder_classes=args.folder_classes,
            csv_classes=args.csv_classes,
            split=args.split,
            shares=args.shares,
            csv_negative_share=args.csv_negative_share,
            link=args.link,
            seed=args.seed)
    except (ValueError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(format_summary(summary, args.out))
    print(f'summary: {osp.join(args.out, "export.json")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
