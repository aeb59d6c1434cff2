"""Convert a pcl.pytorch / wetectron proposal pickle to the project's
proposal format (.npz).

Example::

    python tools/dataset_converters/pickled_proposals_to_npz.py \\
        data/selective_search_data/voc_2007_trainval.pkl \\
        data/VOCdevkit/annotations/voc07_trainval.json \\
        --out data/VOCdevkit/proposals/ss_voc07_trainval.npz

The pickle is a dict with 'boxes' (x1, y1, x2, y2, 0-based, inclusive x2/y2),
optional 'scores', and 'indexes' (pcl.pytorch) or 'ids' (wetectron). Only
numpy arrays are unpickled; any other global is refused. See
``mmdet_csod/datasets/converters/pickled_proposals.py``.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmdet_csod.datasets.converters.pickled_proposals import (  # noqa: E402
    MATCH_MODES, convert_pickled_proposals)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a pickled proposal dict of pcl.pytorch '
        "('indexes') or wetectron ('ids') into a proposal .npz keyed like "
        'the dataset.')
    parser.add_argument('pkl_file', help='the proposal pickle')
    parser.add_argument('ann_file', help='COCO-style json of the same images')
    parser.add_argument('--out', required=True, help='output .npz file')
    parser.add_argument(
        '--img-prefix',
        default='',
        help="the dataset's image folder (data_root + "
        "data_prefix['img']); keys are '<parent folder>/<file "
        "name>' of img_prefix/file_name, so this only matters "
        "when file_name has no folder (default: '')")
    parser.add_argument(
        '--match-by',
        choices=MATCH_MODES,
        default='auto',
        help="how ids name images: 'id' = json image id, "
        "'stem' = file-name stem, 'auto' = the first that "
        'matches every id (default: auto)')
    parser.add_argument(
        '--allow-missing',
        action='store_true',
        help='write json images that have no proposals with '
        'zero boxes (counted warning) instead of failing')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    result = convert_pickled_proposals(
        args.pkl_file,
        args.ann_file,
        args.out,
        img_prefix=args.img_prefix,
        allow_missing=args.allow_missing,
        match_by=args.match_by)
    n_boxes = sum(len(b) for b, _ in result.values())
    print(f'{args.out}: {len(result)} images, {n_boxes} boxes')


if __name__ == '__main__':
    main()
