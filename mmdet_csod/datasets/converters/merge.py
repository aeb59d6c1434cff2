"""Merge a box-annotated COCO json with image-level tag sources.

Each source is a COCO-style json (boxes, or the training json written by
:mod:`.openimages` / :mod:`.class_folders`) and the folder its ``file_name``
values are relative to (its image root). What one source says about one of
its images, in the unified class ids:

* present: ``image_labels`` and the classes of its boxes (``iscrowd`` boxes
  excepted: a class with only crowd boxes is neither present nor absent, and
  another source calling it absent is an error, as for a present class);
* verified absent: ``negative_labels`` and, when the image's ``unlabeled``
  is ``'negative'`` (the default when the field is missing), every other
  class of that source's categories;
* a class the source has no category for is unknown for its images
  (``other_classes='unknown'``, the default: COCO images with person boxes
  say nothing about zebras) or, with ``other_classes='negative'``, absent for
  images of ``'negative'`` sources (a closed world). Such an absence is an
  assumption: where another source tags the class or has a box of it, it is
  dropped and noted, not an error.

The merged json:

* ``categories``: unified by name after the synonym mapping (``{"people":
  "person"}``); the first source's categories keep their ids (so its boxes
  keep their ``category_id`` unless a synonym maps them elsewhere), new names
  get the next ids in order of appearance.
* ``images``: one per file, the file being the path ``image root /
  file_name`` with symbolic links resolved: the same file in two sources is
  one image whose labels are the union; a class present in one source and
  verified absent in another is an error naming both sources. Ids 1..N in
  source order. ``file_name`` is the path relative to ``data_root`` (default:
  the deepest folder holding every source's image root), so each source's
  file names get its image root's place under ``data_root`` as a prefix and
  two sources' different files of the same name stay apart. The image keeps
  the other fields of its first entry (``license``, ``coco_url``...).
  Labels are written as ``image_labels`` (present), ``negative_labels``
  (absent, implied ones made explicit) and ``"unlabeled": "ignore"`` when
  some class is unknown; an image with boxes only and nothing unknown is
  written as it was (its labels stay derived from its boxes).
* ``annotations``: every box as it is (all fields kept), ids renumbered 1..M,
  ``image_id`` and ``category_id`` mapped.

:func:`merge_sources` also returns the per-class, per-source counts (images
where a class is present / absent, boxes; a source's column counts what it
says, assumed absences included, ``merged`` what the output holds, with the
images where the class is unknown) that :func:`save_counts` writes next to
the output as ``<out>.counts.json`` and ``<out>.counts.csv``.
"""
import json
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

from ._common import few
from ._image_tags import (UNLABELED_MODES, SkipCounter, format_counts,
                          load_mapping, note_proposal_key_clashes,
                          read_image_size, save_counts, write_json)

__all__ = [
    'Source', 'load_mapping', 'merge_sources', 'save_counts', 'format_counts'
]

LABEL_FIELDS = ('id', 'file_name', 'width', 'height', 'image_labels',
                'negative_labels', 'unlabeled')


class Source:
    """One input json and the folder its file names are relative to.

    Loading checks the json: ``images`` with unique ``id`` and a
    ``file_name``, ``categories`` with unique ``id`` and ``name``,
    annotations of known images and categories, label fields that are lists
    of the json's category ids, ``unlabeled`` in :data:`UNLABELED_MODES`,
    and no class both present and absent in one entry.
    """

    def __init__(self, json_path: str, image_root: str, name: str) -> None:
        self.json_path, self.image_root = json_path, image_root
        self.name = name
        if not osp.isfile(json_path):
            raise FileNotFoundError(f'source {name}: json not found: '
                                    f'{json_path}')
        try:
            with open(json_path, encoding='utf-8') as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f'{json_path}: not a json file: {e}') from e
        if not isinstance(data, dict) or not isinstance(
                data.get('images'), list) or not isinstance(
                    data.get('categories'), list):
            raise ValueError(f'{json_path}: not a COCO-style json (needs '
                             '"images" and "categories" lists)')
        self.images: List[Dict] = data['images']
        self.categories: List[Dict] = data['categories']
        self.annotations: List[Dict] = data.get('annotations') or []
        self.cat_names: Dict[int, str] = {}
        for k, cat in enumerate(self.categories):
            if not isinstance(cat, dict) or 'id' not in cat or not cat.get(
                    'name') or cat['id'] in self.cat_names:
                raise ValueError(f'{json_path}: category entry {k} lacks an '
                                 'id or name, or repeats an id')
            self.cat_names[cat['id']] = cat['name']
        ids = set()
        for k, img in enumerate(self.images):
            if not isinstance(img, dict) or 'id' not in img \
                    or not img.get('file_name'):
                raise ValueError(f'{json_path}: image entry {k} lacks "id" '
                                 'or "file_name"')
            if img['id'] in ids:
                raise ValueError(f'{json_path}: image id {img["id"]} is used '
                                 'by two images')
            ids.add(img['id'])
            self._check_labels(img)
        self.anns_of: Dict[int, List[Dict]] = {i: [] for i in ids}
        for ann in self.annotations:
            if ann.get('image_id') not in ids or ann.get(
                    'category_id') not in self.cat_names:
                raise ValueError(
                    f'{json_path}: annotation {ann.get("id")} refers to an '
                    f'unknown image ({ann.get("image_id")}) or category '
                    f'({ann.get("category_id")})')
            self.anns_of[ann['image_id']].append(ann)

    def _check_labels(self, img: Dict) -> None:
        where = f'{self.json_path}: image {img["file_name"]}'
        for field in ('image_labels', 'negative_labels'):
            values = img.get(field, [])
            if not isinstance(values, list) or any(v not in self.cat_names
                                                   for v in values):
                raise ValueError(f'{where}: "{field}" must be a list of the '
                                 f'json\'s category ids, got {values!r}')
        both = set(img.get('image_labels', [])) & set(
            img.get('negative_labels', []))
        if both:
            raise ValueError(
                f'{where}: classes both in "image_labels" and '
                f'"negative_labels": {[self.cat_names[c] for c in both]}')
        if img.get('unlabeled', 'negative') not in UNLABELED_MODES:
            raise ValueError(f'{where}: "unlabeled" must be one of '
                             f'{UNLABELED_MODES}, got {img["unlabeled"]!r}')


def unify_categories(
        sources: Sequence[Source],
        mapping: Dict[str, str]) -> Tuple[List[Dict], List[Dict[int, int]]]:
    """Unified categories and, per source, its category id -> unified id."""
    unified: 'OrderedDict[str, int]' = OrderedDict()
    next_id = max([c['id'] for c in sources[0].categories] + [0]) + 1
    per_source = []
    for k, src in enumerate(sources):
        ids = {}
        for cat in src.categories:
            name = mapping.get(cat['name'], cat['name'])
            if name not in unified:
                if k == 0 and cat['id'] not in unified.values():
                    unified[name] = cat['id']
                else:
                    unified[name] = next_id
                    next_id += 1
            ids[cat['id']] = unified[name]
        per_source.append(ids)
    categories = [
        dict(id=i, name=n, supercategory='none') for n, i in unified.items()
    ]
    return sorted(categories, key=lambda c: c['id']), per_source


def image_knowledge(src: Source, img: Dict, ids: Dict[int, int],
                    all_ids: Sequence[int], other_classes: str):
    """What ``src`` says about ``img``: ``(present, absent, crowd,
    assumed)``, dicts of unified id -> the reason (for messages). ``crowd``:
    classes with only ``iscrowd`` boxes (neither present nor absent, but not
    absent either); ``assumed``: absences of classes ``src`` has no category
    for (``other_classes='negative'``), which a tag of another source
    overrides."""
    present, absent, crowd, assumed = {}, {}, {}, {}
    for ann in src.anns_of[img['id']]:
        if ann.get('iscrowd', 0):
            crowd[ids[ann['category_id']]] = 'has an iscrowd box'
        else:
            present[ids[ann['category_id']]] = 'has a box'
    for c in img.get('image_labels', []):
        present.setdefault(ids[c], 'lists it in image_labels')
    for c in present:
        crowd.pop(c, None)
    for c in img.get('negative_labels', []):
        if ids[c] in present or ids[c] in crowd:
            raise ValueError(
                f'{src.json_path}: image {img["file_name"]}: class '
                f'{src.cat_names[c]!r} is in "negative_labels" but the image '
                f'{present.get(ids[c]) or crowd[ids[c]]}')
        absent[ids[c]] = 'lists it in negative_labels'
    if img.get('unlabeled', 'negative') == 'negative':
        own = set(ids.values())
        scope = all_ids if other_classes == 'negative' else own
        for c in scope:
            if c in own and c not in present and c not in crowd:
                absent.setdefault(c, "does not tag it (unlabeled='negative')")
            elif c not in own:
                assumed[c] = "has no such class (other_classes='negative')"
    return present, absent, crowd, assumed


def _empty_counts(sources: Sequence[Source], names: Sequence[str]) -> Dict:
    cols = [s.name for s in sources] + ['merged']
    return OrderedDict(
        (n, OrderedDict((c, dict(present=0, absent=0, boxes=0)) for c in cols))
        for n in names)


def merge_sources(sources: Sequence[Source],
                  out_file: Optional[str] = None,
                  mapping: Optional[Dict[str, str]] = None,
                  data_root: Optional[str] = None,
                  other_classes: str = 'unknown',
                  check_files: bool = True) -> Tuple[Dict, Dict]:
    """Merge the sources into one training json (see the module docstring).

    Args:
        sources (Sequence[Source]): The box source first, then tag sources.
        out_file (str, optional): Where to write the json.
        mapping (dict, optional): Synonyms, name -> unified name.
        data_root (str, optional): Output ``file_name`` values are relative
            to it; defaults to the deepest folder holding every image root.
        other_classes (str): ``'unknown'`` or ``'negative'``.
        check_files (bool): Fail when an image file is missing.

    Returns:
        tuple: The COCO dict and the report: ``counts`` (class -> source or
        ``'merged'`` -> present / absent / boxes, plus ``unknown`` for
        merged), ``sources``, ``data_root``, ``shared_images`` and ``notes``
        (unused mapping entries, dropped assumed absences, images whose
        proposal keys collide).

    Raises:
        FileNotFoundError: Missing image files (counted, the first named).
        ValueError: A class present in one source and absent in another for
            one file, or two sources giving one file different sizes; both
            sources named.
    """
    if other_classes not in ('unknown', 'negative'):
        raise ValueError(f"other_classes must be 'unknown' or 'negative', "
                         f'got {other_classes!r}')
    if not sources:
        raise ValueError('no source to merge')
    if len({s.name for s in sources}) < len(sources):
        raise ValueError('source names must be unique, got '
                         f'{[s.name for s in sources]}')
    mapping = mapping or {}
    roots = [osp.abspath(s.image_root) for s in sources]
    data_root = osp.abspath(data_root or osp.commonpath(roots))
    categories, cat_maps = unify_categories(sources, mapping)
    all_ids = [c['id'] for c in categories]
    names = {c['id']: c['name'] for c in categories}
    notes = SkipCounter()
    used_names = {c['name'] for s in sources for c in s.categories}
    for key in mapping:
        if key not in used_names:
            notes.add('mapping entries matching no category', key)
    counts = _empty_counts(sources, names.values())
    merged: 'OrderedDict[str, Dict]' = OrderedDict()
    missing = []
    for src, ids in zip(sources, cat_maps):
        for img in src.images:
            path = osp.normpath(osp.join(src.image_root, img['file_name']))
            if check_files and not osp.isfile(path):
                missing.append((src, path))
                continue
            knowledge = image_knowledge(src, img, ids, all_ids, other_classes)
            for c in knowledge[0]:
                counts[names[c]][src.name]['present'] += 1
            for c in (*knowledge[1], *knowledge[3]):
                counts[names[c]][src.name]['absent'] += 1
            for ann in src.anns_of[img['id']]:
                counts[names[ids[ann['category_id']]]][src.name]['boxes'] += 1
            real = osp.realpath(path)
            rec = merged.get(real)
            if rec is None:
                rec = merged[real] = dict(
                    path=path,
                    entry=img,
                    sources=[],
                    present={},
                    absent={},
                    crowd={},
                    assumed={},
                    anns=[],
                    labelled=False,
                    size=None)
            _merge_into(rec, src, img, knowledge, names)
            rec['anns'].extend((ann, ids) for ann in src.anns_of[img['id']])
            rec['labelled'] |= any(f in img for f in LABEL_FIELDS[4:])
    if missing:
        src, path = missing[0]
        raise FileNotFoundError(
            f'{len(missing)} images listed by the sources have no file: '
            f'{few(p for _, p in missing)}; the first is listed by {src.name} '
            f'({src.json_path}, image root {src.image_root})')
    images, annotations = [], []
    for rec in merged.values():
        image_id = len(images) + 1
        entry = {
            k: v
            for k, v in rec['entry'].items() if k not in LABEL_FIELDS
        }
        file_name = osp.relpath(osp.abspath(rec['path']), data_root)
        if file_name.startswith(os.pardir):
            raise ValueError(f'image {rec["path"]} is not inside the data '
                             f'root {data_root}')
        width, height = rec['size'] if rec['size'] else read_image_size(
            rec['path'])
        out = dict(
            id=image_id,
            file_name=file_name.replace(os.sep, '/'),
            width=width,
            height=height,
            **entry)
        for c, reason in rec['assumed'].items():
            if c in rec['present'] or c in rec['crowd']:
                notes.add(
                    "absences assumed by other_classes='negative' that "
                    'another source contradicts (dropped)',
                    f'{out["file_name"]}: {names[c]}')
            else:
                rec['absent'].setdefault(c, reason)
        unknown = set(all_ids) - set(rec['present']) - set(rec['absent'])
        if rec['labelled'] or len(
                rec['sources']) > 1 or unknown - set(rec['crowd']):
            out['image_labels'] = sorted(rec['present'])
            out['negative_labels'] = sorted(rec['absent'])
            if unknown:
                out['unlabeled'] = 'ignore'
        images.append(out)
        for c in rec['present']:
            counts[names[c]]['merged']['present'] += 1
        for c in rec['absent']:
            counts[names[c]]['merged']['absent'] += 1
        for ann, ids in rec['anns']:
            annotations.append(
                dict(
                    ann,
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=ids[ann['category_id']]))
            counts[names[ids[ann['category_id']]]]['merged']['boxes'] += 1
    for name in counts:
        m = counts[name]['merged']
        m['unknown'] = len(images) - m['present'] - m['absent']
    note_proposal_key_clashes([i['file_name'] for i in images], notes)
    coco = dict(
        info=dict(
            description='merged by mmdet_csod.datasets.converters.merge: ' +
            ', '.join(s.name for s in sources),
            other_classes=other_classes),
        images=images,
        annotations=annotations,
        categories=categories)
    write_json(coco, out_file)
    report = dict(
        data_root=data_root,
        sources=[
            dict(
                name=s.name,
                json=s.json_path,
                image_root=s.image_root,
                images=len(s.images),
                boxes=len(s.annotations)) for s in sources
        ],
        images=len(images),
        shared_images=sum(len(r['sources']) > 1 for r in merged.values()),
        counts=counts,
        notes=notes.as_dict())
    return coco, report


def _merge_into(rec: Dict, src: Source, img: Dict, knowledge: Tuple,
                names: Dict[int, str]) -> None:
    """Add one source entry's ``(present, absent, crowd)`` to a merged image
    record; a class absent in one and present (or with a crowd box) in the
    other is an error naming both."""
    present, absent, crowd, assumed = knowledge
    label = f'{src.name} ({src.json_path})'
    size = (img['width'], img['height']) if 'width' in img and \
        'height' in img else None
    if size and rec['size'] and size != rec['size']:
        raise ValueError(
            f'{rec["path"]}: {label} gives the size {size[0]}x{size[1]}, '
            f'{rec["size_from"]} gives {rec["size"][0]}x{rec["size"][1]}')
    if size and not rec['size']:
        rec['size'], rec['size_from'] = size, label
    here = {**crowd, **present}  # what this entry says is there
    there = {**rec['crowd'], **rec['present']}
    checks = [(here, rec['absent'], 'present', 'verified absent'),
              (absent, there, 'verified absent', 'present')]
    for mine, theirs, word, other_word in checks:
        for c, why in mine.items():
            if c in theirs:
                other, other_why = theirs[c]
                raise ValueError(
                    f'{rec["path"]}: class {names[c]!r} is {word} in '
                    f'{label}, which {why}, and {other_word} in {other}, '
                    f'which {other_why}')
    for kind, new in [('present', present), ('absent', absent),
                      ('crowd', crowd), ('assumed', assumed)]:
        for c, why in new.items():
            rec[kind].setdefault(c, (label, why))
    for c in rec['present']:
        rec['crowd'].pop(c, None)
    rec['sources'].append(label)
