"""Convert OpenImages image-level labels (CSV) into a training json.

Example::

    python tools/dataset_converters/openimages_labels_to_coco.py \\
        oi/train-annotations-human-imagelabels.csv \\
        oi/class-descriptions.csv --image-dir oi/train \\
        --classes Zebra Giraffe --out data/oi/annotations/train_tags.json

Confidence 1 rows are present classes, Confidence 0 rows verified absences;
``--unlabeled ignore`` (the default) marks every other class of an image as
unknown (OpenImages tags are partial). ``file_name`` is relative to
``--data-root`` (default ``--image-dir``: ``<ImageID>.jpg``). See
``mmdet_csod/datasets/converters/openimages.py`` for the details.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmdet_csod.datasets.converters._image_tags import (  # noqa: E402
    UNLABELED_MODES, print_label_summary)
from mmdet_csod.datasets.converters.openimages import \
    openimages_to_coco  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an OpenImages image-level label CSV '
        '(ImageID,Source,LabelName,Confidence) into a COCO-style training '
        'json with image_labels / negative_labels.')
    parser.add_argument(
        'labels_csv', help='e.g. train-annotations-human-imagelabels.csv')
    parser.add_argument(
        'class_csv',
        help='LabelName,DisplayName file (class-descriptions.csv; a header '
        'line is optional)')
    parser.add_argument(
        '--image-dir',
        required=True,
        help='folder holding <ImageID>.jpg (sizes are read from the files)')
    parser.add_argument('--out', required=True, help='output json file')
    parser.add_argument(
        '--classes',
        nargs='+',
        help='classes to keep, by DisplayName or LabelName (default: every '
        'class the CSV uses); rows of others are dropped and counted')
    parser.add_argument(
        '--data-root',
        help='file_name is relative to this folder (default: --image-dir)')
    parser.add_argument(
        '--unlabeled',
        choices=UNLABELED_MODES,
        default='ignore',
        help="a class neither present nor verified absent in an image: "
        "'ignore' = unknown (default; OpenImages tags are partial), "
        "'negative' = absent")
    parser.add_argument(
        '--skip-missing',
        action='store_true',
        help='leave out (count and name) images without a file instead of '
        'failing')
    parser.add_argument(
        '--image-ext', default='.jpg', help='image file ending (.jpg)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    coco, skips = openimages_to_coco(
        args.labels_csv,
        args.class_csv,
        args.image_dir,
        args.out,
        classes=args.classes,
        data_root=args.data_root,
        unlabeled=args.unlabeled,
        skip_missing=args.skip_missing,
        image_ext=args.image_ext)
    info = coco['info']
    print(f'{args.labels_csv}: {info["label_rows"]} label rows '
          f'({info["duplicate_rows"]} repeating one already read)')
    print_label_summary(coco, skips, args.out, args.unlabeled)


if __name__ == '__main__':
    main()
