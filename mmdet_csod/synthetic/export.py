"""Export the generated data set as a real user's sources.

A cross-supervised user has boxes for some classes and only tags for the
new ones. :func:`export_sources` turns one split of the generated data
(``make_synthetic.py``'s output, every class boxed) into such sources, each
in its real format, for the README's tutorial "Add a class from tagged
images" and its end-to-end test::

    OUT/coco/annotations/base.json   COCO with boxes of the box classes only
                                     (other boxes removed, other classes
                                     absent from its categories)
    OUT/coco/images/NNNNNN.jpg       its images
    OUT/tagged/<class>/NNNNNN.jpg    a folder per folder class: an image in
                                     the folder of every folder class it
                                     shows (images showing none are left out)
    OUT/oi/image-labels.csv          OpenImages-style image-level labels
                                     (ImageID,Source,LabelName,Confidence):
                                     Confidence 1 present, 0 verified absent
    OUT/oi/class-descriptions.csv    LabelName,DisplayName (no header, as
                                     OpenImages v6's file)
    OUT/oi/train/<ImageID>.jpg       its images (ImageID: the file's stem)
    OUT/export.json                  what went where, with the counts

The images of the split are dealt to the three sources in turn by
``shares`` (``(2, 1, 1)``: of every 4 images, 2 to the box json, 1 to the
folders, 1 to the CSV), so no image is in two sources. Images are copied, or
symbolically linked (``link='symlink'``: no extra disk space; the links
point at the generated files by absolute path, so the generated set must
stay where it is). The generated data set itself is not changed. The image
folders have distinct names and every image keeps its generated file name,
so the proposal keys of the merged json (parent folder + file name:
``images/...``, ``<class>/...``, ``train/...``) never collide.
"""
import csv
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Sequence

import numpy as np

LINK_MODES = ('copy', 'symlink')
SOURCES = ('boxes', 'folders', 'csv')
# made-up OpenImages-style machine ids (LabelName) of the generated classes
MID_PREFIX = '/m/0csod'


def label_name(class_index: int) -> str:
    """The OpenImages-style LabelName of generated class ``class_index``."""
    return f'{MID_PREFIX}{class_index:02d}'


def _check_classes(role: str, names: Sequence[str],
                   known: Sequence[str]) -> List[str]:
    names = list(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f'{role}: unknown class(es) {unknown}; the data '
                         f'set has {list(known)}')
    if len(set(names)) != len(names):
        raise ValueError(f'{role}: a class is named twice: {names}')
    return names


def _place(src: str, dst: str, link: str) -> None:
    os.makedirs(osp.dirname(dst), exist_ok=True)
    if osp.lexists(dst):
        os.remove(dst)
    if link == 'symlink':
        os.symlink(osp.abspath(src), dst)
    else:
        shutil.copyfile(src, dst)


def _deal(num_images: int, shares: Sequence[int]) -> List[str]:
    """The source of each image: in turn, ``shares[k]`` images to source k
    of every ``sum(shares)``."""
    if len(shares) != len(SOURCES) or any(s < 0 for s in shares) or \
            sum(shares) == 0:
        raise ValueError(f'shares: expected {len(SOURCES)} integers >= 0 '
                         f'({", ".join(SOURCES)}), not all 0; got '
                         f'{list(shares)}')
    cycle = [s for s, n in zip(SOURCES, shares) for _ in range(n)]
    return [cycle[i % len(cycle)] for i in range(num_images)]


def export_sources(data_root: str,
                   out_dir: str,
                   box_classes: Sequence[str],
                   folder_classes: Sequence[str],
                   csv_classes: Sequence[str],
                   split: str = 'train',
                   shares: Sequence[int] = (2, 1, 1),
                   csv_negative_share: float = 1.0,
                   link: str = 'copy',
                   seed: int = 0) -> Dict:
    """Write the sources described in the module docstring; return the
    summary that is also saved as ``OUT/export.json``.

    Args:
        data_root: the generated data set (``DIR/annotations/<split>.json``,
            ``DIR/<split>/``).
        out_dir: where the sources go (created; files of an earlier export
            are overwritten, others left).
        box_classes: classes boxed in the box json (its categories, ids as
            in the generated json).
        folder_classes: classes of the tagged-image folders.
        csv_classes: classes of the OpenImages-style CSV.
        split: the generated split to export.
        shares: images dealt in turn to the box json, the folders and the
            CSV.
        csv_negative_share: the share of (image, absent class) pairs of the
            CSV written as verified absent (Confidence 0); the others get no
            row, as a class OpenImages did not verify. Present classes
            always get a row with Confidence 1.
        link: 'copy' or 'symlink' the images.
        seed: seed of the draw of the verified negatives.
    """
    if link not in LINK_MODES:
        raise ValueError(f'link: expected one of {LINK_MODES}, got {link!r}')
    if not 0.0 <= csv_negative_share <= 1.0:
        raise ValueError('csv_negative_share: expected a number in [0, 1], '
                         f'got {csv_negative_share}')
    ann_path = osp.join(data_root, 'annotations', f'{split}.json')
    if not osp.isfile(ann_path):
        raise FileNotFoundError(
            f'{ann_path} not found: is {data_root} a data set made by '
            'tools/dataset_converters/make_synthetic.py?')
    with open(ann_path) as f:
        coco = json.load(f)
    id_to_name = {c['id']: c['name'] for c in coco['categories']}
    known = [c['name'] for c in coco['categories']]
    index = {name: i for i, name in enumerate(known)}
    box_classes = _check_classes('box classes', box_classes, known)
    folder_classes = _check_classes('folder classes', folder_classes, known)
    csv_classes = _check_classes('CSV classes', csv_classes, known)
    both = sorted(set(box_classes) & set(folder_classes + csv_classes),
                  key=index.get)
    if both:
        raise ValueError(f'class(es) {both} both boxed and tagged: a class '
                         'goes either to the box json or to tag sources')

    anns_of: Dict[int, List[Dict]] = {}
    for ann in coco['annotations']:
        anns_of.setdefault(ann['image_id'], []).append(ann)
    images = sorted(coco['images'], key=lambda im: im['id'])
    dealt = _deal(len(images), shares)
    rng = np.random.default_rng(seed)
    img_dir = osp.join(data_root, split)

    box_images, box_anns = [], []
    folder_counts = {c: 0 for c in folder_classes}
    csv_rows, csv_images = [], 0
    csv_counts = {c: dict(present=0, absent=0) for c in csv_classes}
    left_out = []
    for img, source in zip(images, dealt):
        src = osp.join(img_dir, img['file_name'])
        anns = anns_of.get(img['id'], [])
        shown = {id_to_name[a['category_id']] for a in anns}
        if source == 'boxes':
            box_images.append(dict(img))
            for ann in anns:
                if id_to_name[ann['category_id']] in box_classes:
                    box_anns.append(dict(ann, id=len(box_anns) + 1))
            _place(src, osp.join(out_dir, 'coco', 'images', img['file_name']),
                   link)
        elif source == 'folders':
            holds = [c for c in folder_classes if c in shown]
            if not holds:
                left_out.append(img['file_name'])
            for cls in holds:
                folder_counts[cls] += 1
                _place(src, osp.join(out_dir, 'tagged', cls,
                                     img['file_name']), link)
        else:
            image_id = osp.splitext(img['file_name'])[0]
            rows = []
            for cls in csv_classes:
                if cls in shown:
                    confidence = 1
                elif rng.random() < csv_negative_share:
                    confidence = 0
                else:
                    continue
                key = 'present' if confidence else 'absent'
                csv_counts[cls][key] += 1
                rows.append([image_id, 'verification',
                             label_name(index[cls]), confidence])
            if not rows:
                left_out.append(img['file_name'])
                continue
            csv_rows += rows
            csv_images += 1
            _place(src, osp.join(out_dir, 'oi', 'train', image_id + '.jpg'),
                   link)

    box_json = osp.join(out_dir, 'coco', 'annotations', 'base.json')
    os.makedirs(osp.dirname(box_json), exist_ok=True)
    info = dict(coco.get('info', {}))
    info.update(exported_from=osp.abspath(ann_path),
                note='boxes of the box classes only')
    with open(box_json, 'w') as f:
        json.dump(
            dict(
                info=info,
                images=box_images,
                annotations=box_anns,
                categories=[
                    c for c in coco['categories'] if c['name'] in box_classes
                ]), f)
    oi_dir = osp.join(out_dir, 'oi')
    os.makedirs(oi_dir, exist_ok=True)
    with open(osp.join(oi_dir, 'image-labels.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['ImageID', 'Source', 'LabelName', 'Confidence'])
        writer.writerows(csv_rows)
    with open(osp.join(oi_dir, 'class-descriptions.csv'), 'w',
              newline='') as f:
        csv.writer(f).writerows([label_name(index[c]), c]
                                for c in csv_classes)

    summary = dict(
        data_root=osp.abspath(data_root),
        split=split,
        link=link,
        shares=list(shares),
        box_json=dict(
            classes=box_classes,
            images=len(box_images),
            boxes={
                c: sum(id_to_name[a['category_id']] == c for a in box_anns)
                for c in box_classes
            }),
        folders=dict(classes=folder_classes, images=folder_counts),
        csv=dict(
            classes=csv_classes,
            label_names={c: label_name(index[c]) for c in csv_classes},
            images=csv_images,
            rows=len(csv_rows),
            labels=csv_counts),
        left_out=left_out)
    with open(osp.join(out_dir, 'export.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    return summary


def format_summary(summary: Dict, out_dir: Optional[str] = None) -> str:
    """A few lines saying what went where."""
    out = out_dir or '.'
    box, folders, oi = summary['box_json'], summary['folders'], summary['csv']
    lines = [
        f'{out}/coco/annotations/base.json: {box["images"]} images, boxes '
        + ', '.join(f'{c} {n}' for c, n in box['boxes'].items()),
        f'{out}/tagged/: ' + ', '.join(
            f'{c}/ {n} images' for c, n in folders['images'].items()),
        f'{out}/oi/image-labels.csv: {oi["images"]} images, {oi["rows"]} '
        'rows; ' + ', '.join(
            f'{c} present {n["present"]} absent {n["absent"]}'
            for c, n in oi['labels'].items()),
    ]
    if summary['left_out']:
        lines.append(f'{len(summary["left_out"])} image(s) left out (no '
                     'class of their source): ' +
                     ', '.join(summary['left_out'][:10]))
    return '\n'.join(lines)
