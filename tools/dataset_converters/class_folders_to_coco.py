"""Convert a folder-per-class layout (ROOT/<class>/<image>) into a training
json.

Example::

    python tools/dataset_converters/class_folders_to_coco.py data/tagged \\
        --out data/tagged/annotations/tags.json

Each folder directly under ROOT is a class; files with identical bytes in
several folders are one image with several labels. ``--unlabeled negative``
(the default) makes an image a negative of every class whose folder does not
hold it; ``ignore`` makes those classes unknown. ``file_name`` is relative to
``--data-root`` (default ROOT: ``<class>/<image>``). See
``mmdet_csod/datasets/converters/class_folders.py`` for the details.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmdet_csod.datasets.converters._image_tags import (  # noqa: E402
    UNLABELED_MODES, print_label_summary)
from mmdet_csod.datasets.converters.class_folders import \
    class_folders_to_coco  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert ROOT/<class name>/<image> folders into a '
        'COCO-style training json with image_labels.')
    parser.add_argument('root', help='folder holding one folder per class')
    parser.add_argument('--out', required=True, help='output json file')
    parser.add_argument(
        '--classes',
        nargs='+',
        help='class folders to keep, in this category order (default: every '
        'folder, sorted)')
    parser.add_argument(
        '--data-root',
        help='file_name is relative to this folder (default: ROOT)')
    parser.add_argument(
        '--unlabeled',
        choices=UNLABELED_MODES,
        default='negative',
        help="a class whose folder does not hold an image: 'negative' = "
        "absent (default), 'ignore' = unknown (e.g. search results)")
    parser.add_argument(
        '--skip-unreadable',
        action='store_true',
        help='leave out (count and name) image files that cannot be read '
        'instead of failing')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    coco, skips = class_folders_to_coco(
        args.root,
        args.out,
        classes=args.classes,
        data_root=args.data_root,
        unlabeled=args.unlabeled,
        skip_unreadable=args.skip_unreadable)
    print_label_summary(coco, skips, args.out, args.unlabeled)


if __name__ == '__main__':
    main()
