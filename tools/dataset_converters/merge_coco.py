"""Merge a box-annotated COCO json with image-level tag sources.

Example::

    python tools/dataset_converters/merge_coco.py \\
        --boxes data/coco/annotations/base.json data/coco/train2017 \\
        --tags data/tagged/annotations/tags.json data/tagged \\
        --tags data/oi/annotations/train_tags.json data/oi/train \\
        --mapping synonyms.yaml --data-root data \\
        --out data/annotations/merged.json

Each source is a json and the folder its file names are relative to. The
same file (resolved path) in two sources becomes one image with the union of
the labels; categories are unified by name (``--mapping``: a json or yaml
file of synonyms, e.g. ``{"people": "person"}``); ids are renumbered and
file names made relative to ``--data-root`` (default: the deepest folder
holding every image root). A per-class, per-source count table is printed
and saved as ``<out>.counts.json`` and ``<out>.counts.csv``. See
``mmdet_csod/datasets/converters/merge.py`` for the details.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmdet_csod.datasets.converters.merge import (  # noqa: E402
    Source, format_counts, load_mapping, merge_sources, save_counts)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Merge one box-annotated COCO json with one or more '
        'image-level tag sources into one training json.')
    parser.add_argument(
        '--boxes',
        nargs=2,
        metavar=('JSON', 'IMAGE_ROOT'),
        help='the box-annotated COCO json and the folder its file names are '
        'relative to; its category ids are kept')
    parser.add_argument(
        '--tags',
        nargs=2,
        action='append',
        default=[],
        metavar=('JSON', 'IMAGE_ROOT'),
        help='a tag source (e.g. from openimages_labels_to_coco.py or '
        'class_folders_to_coco.py) and its image root; repeatable')
    parser.add_argument('--out', required=True, help='output json file')
    parser.add_argument(
        '--mapping', help='json/yaml file of synonyms {name: unified name}')
    parser.add_argument(
        '--data-root',
        help='output file names are relative to this folder (default: the '
        'deepest folder holding every image root)')
    parser.add_argument(
        '--other-classes',
        choices=('unknown', 'negative'),
        default='unknown',
        help="a class a source has no category for, on that source's images: "
        "'unknown' (default) or 'negative' (closed world, only for images "
        "whose unlabeled is 'negative')")
    parser.add_argument(
        '--no-check-files',
        action='store_true',
        help='do not check that every image file exists')
    return parser.parse_args(argv)


def source_names(paths):
    """Names for the count table: json file stems, made unique."""
    names = []
    for path in paths:
        stem = osp.splitext(osp.basename(path))[0]
        name, k = stem, 2
        while name in names:
            name, k = f'{stem}_{k}', k + 1
        names.append(name)
    return names


def main(argv=None):
    args = parse_args(argv)
    specs = ([tuple(args.boxes)]
             if args.boxes else []) + [tuple(t) for t in args.tags]
    if not args.tags:
        sys.exit('merge_coco.py: give at least one tag source (--tags JSON '
                 'IMAGE_ROOT)')
    names = source_names([json_path for json_path, _ in specs])
    sources = [
        Source(json_path, root, name)
        for (json_path, root), name in zip(specs, names)
    ]
    coco, report = merge_sources(
        sources,
        args.out,
        mapping=load_mapping(args.mapping),
        data_root=args.data_root,
        other_classes=args.other_classes,
        check_files=not args.no_check_files)
    json_file, csv_file = save_counts(report, args.out)
    for src in report['sources']:
        print(f'{src["name"]}: {src["json"]} ({src["images"]} images, '
              f'{src["boxes"]} boxes), image root {src["image_root"]}')
    print(f'{args.out}: {report["images"]} images '
          f'({report["shared_images"]} from more than one source), '
          f'{len(coco["annotations"])} boxes, {len(coco["categories"])} '
          f'classes; file names relative to {report["data_root"]}')
    print(format_counts(report))
    for note, items in report['notes'].items():
        print(f'note: {note}: {len(items)} {items[:5]}')
    print(f'counts saved to {json_file} and {csv_file}')


if __name__ == '__main__':
    main()
