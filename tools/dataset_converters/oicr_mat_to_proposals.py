"""Convert an OICR / Fast R-CNN Selective Search .mat file to the project's
proposal format (.npz).

Example (VOC2007 trainval, json from voc_to_coco.py)::

    python tools/dataset_converters/oicr_mat_to_proposals.py \\
        data/selective_search_data/voc_2007_trainval.mat \\
        data/VOCdevkit/annotations/voc07_trainval.json \\
        --out data/VOCdevkit/proposals/ss_voc07_trainval.npz

The .mat holds the cells ``images`` (ids like '000005') and ``boxes`` ([K, 4]
y1, x1, y2, x2, 1-based inclusive); output boxes are x1, y1, x2, y2, 0-based
with exclusive x2/y2. Ids are matched to the stems of the json's file names.
See ``mmdet_csod/datasets/converters/oicr_mat.py``.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmdet_csod.datasets.converters.oicr_mat import \
    convert_oicr_mat  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an OICR / Fast R-CNN selective_search_data .mat '
        'file (MATLAB v5/v7) into a proposal .npz keyed like the dataset.')
    parser.add_argument(
        'mat_file',
        help='the .mat file with the cell '
        'arrays "images" and "boxes"')
    parser.add_argument(
        'ann_file',
        help='COCO-style json of the same images '
        '(ids are matched to its file-name stems)')
    parser.add_argument('--out', required=True, help='output .npz file')
    parser.add_argument(
        '--img-prefix',
        default='',
        help="the dataset's image folder (data_root + "
        "data_prefix['img']); keys are '<parent folder>/<file "
        "name>' of img_prefix/file_name, so this only matters "
        "when file_name has no folder (default: '')")
    parser.add_argument(
        '--allow-missing',
        action='store_true',
        help='write json images that have no proposals with '
        'zero boxes (counted warning) instead of failing')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    result = convert_oicr_mat(
        args.mat_file,
        args.ann_file,
        args.out,
        img_prefix=args.img_prefix,
        allow_missing=args.allow_missing)
    n_boxes = sum(len(b) for b, _ in result.values())
    print(f'{args.out}: {len(result)} images, {n_boxes} boxes')


if __name__ == '__main__':
    main()
