"""Convert PASCAL VOC XML annotations into one COCO-style json.

Example::

    python tools/dataset_converters/voc_to_coco.py data/VOCdevkit \\
        --sets 2007/trainval 2012/trainval \\
        --out data/VOCdevkit/annotations/voc0712_trainval.json

``file_name`` is relative to the VOCdevkit folder
(``VOC2007/JPEGImages/000005.jpg``): configs use ``data_root`` = the
VOCdevkit folder and ``data_prefix=dict(img='')``. Difficult objects are kept
with ``iscrowd: 1`` (ignored) and ``difficult: 1``. See
``mmdet_csod/datasets/converters/voc.py`` for the details.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmdet_csod.datasets.converters.voc import (ID_MODES,  # noqa: E402
                                                voc_to_coco)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert PASCAL VOC XML annotations of one or more image '
        'sets into a single COCO-style json.')
    parser.add_argument(
        'devkit_root',
        help='the VOCdevkit folder (holding '
        'VOC2007/, VOC2012/)')
    parser.add_argument(
        '--sets',
        nargs='+',
        required=True,
        help='image sets as YEAR/SET, read from '
        'VOC{YEAR}/ImageSets/Main/{SET}.txt, e.g. '
        '2007/trainval 2012/trainval')
    parser.add_argument('--out', required=True, help='output json file')
    parser.add_argument(
        '--id-mode',
        choices=ID_MODES,
        default='name',
        help="image ids: 'name' = the VOC id as an int "
        "('000005' -> 5, '2008_000008' -> 2008000008, the "
        "ids of Detectron's VOC jsons); 'index' = 1..N in "
        'listed order (default: name)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    coco = voc_to_coco(
        args.devkit_root, args.sets, args.out, id_mode=args.id_mode)
    n_ign = sum(a['iscrowd'] for a in coco['annotations'])
    print(f'{args.out}: {len(coco["images"])} images, '
          f'{len(coco["annotations"])} objects ({n_ign} difficult, '
          'kept as iscrowd=1)')


if __name__ == '__main__':
    main()
