"""OpenImages image-level labels (CSV) -> the project's training json.

Files read, in OpenImages' own formats:

* the label file, e.g. ``train-annotations-human-imagelabels.csv``, with the
  header ``ImageID,Source,LabelName,Confidence``: one row per (image, class)
  verified by a human; ``Confidence`` 1 = present, 0 = verified absent. Rows
  that say the same twice (two ``Source`` values) count once; the same class
  both present and absent for one image is an error naming both lines.
* the class descriptions, ``LabelName,DisplayName`` (e.g.
  ``/m/01g317,Person``); v6's ``class-descriptions.csv`` has no header line,
  ``oidv7-class-descriptions.csv`` has one: both are read.
* the images: ``<image_dir>/<ImageID><image_ext>``, whose width and height are
  read from the file header (PIL; EXIF rotations applied as OpenCV does).

What the json holds:

* ``categories``: the kept classes named by ``DisplayName``, ids 1..K, in the
  order of ``classes`` when given, else in the class-description file's order.
  ``classes`` may name a class by ``DisplayName`` or ``LabelName``; rows of
  other classes are dropped and counted by class.
* ``images``: ids 1..N in order of first appearance in the label file;
  ``file_name`` relative to ``data_root`` (default: ``image_dir``, so
  ``<ImageID>.jpg``; configs use that folder as ``data_root`` with
  ``data_prefix=dict(img='')``); ``image_labels`` (Confidence 1),
  ``negative_labels`` (Confidence 0) and, with ``unlabeled='ignore'`` (the
  default: OpenImages tags are partial, a class not verified either way is
  unknown), ``"unlabeled": "ignore"``. In that mode an image left with no
  label of the kept classes says nothing and is skipped (counted); with
  ``unlabeled='negative'`` it is kept as a negative of every kept class.
* ``annotations``: ``[]``.
"""
import csv
import difflib
import os.path as osp
from collections import Counter, OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

from ._common import few
from ._image_tags import (SkipCounter, check_unlabeled, image_entry,
                          make_categories, read_image_size, relative_file_name,
                          write_json)

LABEL_COLUMNS = ('ImageID', 'Source', 'LabelName', 'Confidence')


def read_class_descriptions(path: str) -> 'OrderedDict[str, str]':
    """``LabelName -> DisplayName`` from a class-description CSV.

    A first line ``LabelName,DisplayName`` is a header and skipped; without
    it (OpenImages v6) every line is a class.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A line without exactly two fields, an empty field, or a
            ``LabelName`` given two names; the message names file and line.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'class-description file not found: {path}')
    names: 'OrderedDict[str, str]' = OrderedDict()
    lines: Dict[str, int] = {}
    with open(path, newline='', encoding='utf-8-sig') as f:
        reader = csv.reader(f)
        first = True
        for row in reader:
            if not row or not any(c.strip() for c in row):
                continue
            row = [c.strip() for c in row]
            if first and [c.lower()
                          for c in row] == ['labelname', 'displayname']:
                first = False
                continue
            first = False
            line = reader.line_num
            if len(row) != 2 or not row[0] or not row[1]:
                raise ValueError(
                    f'{path}: line {line}: expected LabelName,DisplayName '
                    f'(e.g. /m/01g317,Person), got {row}')
            mid, name = row
            if mid in names and names[mid] != name:
                raise ValueError(
                    f'{path}: line {line}: LabelName {mid} is named '
                    f'{name!r} here and {names[mid]!r} at line {lines[mid]}')
            names.setdefault(mid, name)
            lines.setdefault(mid, line)
    if not names:
        raise ValueError(f'{path}: no class descriptions')
    return names


def select_classes(descriptions: Dict[str, str],
                   classes: Optional[Sequence[str]], used: Sequence[str],
                   class_csv: str) -> 'OrderedDict[str, str]':
    """The kept classes, ``LabelName -> category name``, in category order.

    Args:
        descriptions (dict): ``LabelName -> DisplayName``.
        classes (Sequence[str], optional): Names (``DisplayName`` or
            ``LabelName``) to keep; None keeps every class in ``used``.
        used (Sequence[str]): The LabelNames the label file uses.
        class_csv (str): For messages.

    Raises:
        ValueError: An unknown class name (with close matches), a display
            name shared by two LabelNames, or two kept classes with one name.
    """
    by_name: Dict[str, List[str]] = {}
    for mid, name in descriptions.items():
        by_name.setdefault(name, []).append(mid)
    if classes is None:
        used = set(used)
        mids = [mid for mid in descriptions if mid in used]
    else:
        mids = []
        for name in classes:
            if name in descriptions:
                mids.append(name)
            elif name in by_name and len(by_name[name]) == 1:
                mids.append(by_name[name][0])
            elif name in by_name:
                raise ValueError(
                    f'class {name!r} is the DisplayName of several LabelNames '
                    f'in {class_csv}: {", ".join(by_name[name])}; give the '
                    'LabelName instead')
            else:
                close = difflib.get_close_matches(name, list(by_name), n=3)
                hint = f' (close: {", ".join(close)})' if close else ''
                raise ValueError(
                    f'unknown class name {name!r}: neither a DisplayName nor '
                    f'a LabelName in {class_csv}{hint}')
    kept: 'OrderedDict[str, str]' = OrderedDict()
    owner: Dict[str, str] = {}
    for mid in mids:
        name = descriptions[mid]
        if name in owner and owner[name] != mid:
            raise ValueError(
                f'LabelNames {owner[name]} and {mid} are both named {name!r} '
                f'in {class_csv}: keep one of them with --classes '
                f'{owner[name]} (a LabelName selects it)')
        owner[name] = mid
        kept[mid] = name
    return kept


def read_image_labels(labels_csv: str, descriptions: Dict[str, str]):
    """Per image (first-appearance order): present and verified-absent
    LabelNames, each with the line it was read from.

    Returns:
        tuple: ``(images, rows, duplicates)``: ``images`` maps ImageID to
        ``dict(line=first line, present={mid: line}, absent={mid: line})``;
        ``rows`` the number of label rows; ``duplicates`` how many rows
        repeated an (image, class, confidence) already read.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A wrong header, a row with the wrong number of fields, an
            empty ImageID, a LabelName not in the class descriptions, a
            Confidence other than 0 or 1, or a class both present and absent
            for one image; messages name the file, the line and the image.
    """
    if not osp.isfile(labels_csv):
        raise FileNotFoundError(f'image-level label file not found: '
                                f'{labels_csv}')
    images: 'OrderedDict[str, Dict]' = OrderedDict()
    rows = duplicates = 0
    with open(labels_csv, newline='', encoding='utf-8-sig') as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or [c.strip()
                              for c in header] != list(LABEL_COLUMNS):
            raise ValueError(
                f'{labels_csv}: line 1: expected the header '
                f'{",".join(LABEL_COLUMNS)} (OpenImages\' '
                f'*-annotations-human-imagelabels.csv), got {header}')
        for row in reader:
            if not row or not any(c.strip() for c in row):
                continue
            line = reader.line_num
            where = f'{labels_csv}: line {line}'
            if len(row) != len(LABEL_COLUMNS):
                raise ValueError(f'{where}: expected {len(LABEL_COLUMNS)} '
                                 f'fields ({",".join(LABEL_COLUMNS)}), got '
                                 f'{row}')
            image_id, _, mid, conf = (c.strip() for c in row)
            if not image_id or '/' in image_id or '\\' in image_id \
                    or image_id in ('.', '..'):
                raise ValueError(f'{where}: invalid ImageID {image_id!r}')
            where += f' (image {image_id})'
            if mid not in descriptions:
                raise ValueError(f'{where}: LabelName {mid!r} is not in the '
                                 'class descriptions')
            try:
                value = float(conf)
            except ValueError:
                value = None
            if value not in (0.0, 1.0):
                raise ValueError(
                    f'{where}: Confidence must be 1 (present) or 0 (verified '
                    f'absent), got {conf!r}; machine-generated label files '
                    '(fractional confidences) are not read')
            rows += 1
            info = images.setdefault(image_id,
                                     dict(line=line, present={}, absent={}))
            same, other = (('present', 'absent') if value == 1.0 else
                           ('absent', 'present'))
            if mid in info[other]:
                raise ValueError(
                    f'{where}: class {descriptions[mid]!r} ({mid}) is '
                    f'{same} here and {other} at line {info[other][mid]}')
            if mid in info[same]:
                duplicates += 1
            else:
                info[same][mid] = line
    return images, rows, duplicates


def openimages_to_coco(labels_csv: str,
                       class_csv: str,
                       image_dir: str,
                       out_file: Optional[str] = None,
                       classes: Optional[Sequence[str]] = None,
                       data_root: Optional[str] = None,
                       unlabeled: str = 'ignore',
                       skip_missing: bool = False,
                       image_ext: str = '.jpg') -> Tuple[Dict, SkipCounter]:
    """Convert an OpenImages image-level label CSV into a training json.

    Args:
        labels_csv (str): ``ImageID,Source,LabelName,Confidence`` file.
        class_csv (str): ``LabelName,DisplayName`` file (header optional).
        image_dir (str): Folder holding ``<ImageID><image_ext>``.
        out_file (str, optional): Where to write the json.
        classes (Sequence[str], optional): Classes to keep (DisplayName or
            LabelName); None keeps every class the label file uses.
        data_root (str, optional): ``file_name`` is relative to it; defaults
            to ``image_dir``.
        unlabeled (str): ``'ignore'`` (default) or ``'negative'``, see the
            module docstring.
        skip_missing (bool): Skip (count and name) images without a file
            instead of failing.
        image_ext (str): The image files' ending. Defaults to ``'.jpg'``.

    Returns:
        tuple: The COCO dict and the :class:`SkipCounter` of what was left
        out (``'rows of classes not kept'`` names each dropped class with its
        row count).

    Raises:
        FileNotFoundError: A missing input or image file (all missing images
            counted, the first named with their label-file line).
        ValueError: Bad rows or names, see :func:`read_image_labels` and
            :func:`select_classes`; an unreadable image.
    """
    check_unlabeled(unlabeled, 'unlabeled (--unlabeled)')
    data_root = image_dir if data_root is None else data_root
    if not osp.isdir(image_dir):
        raise FileNotFoundError(f'image folder not found: {image_dir}')
    descriptions = read_class_descriptions(class_csv)
    parsed, n_rows, n_dup = read_image_labels(labels_csv, descriptions)
    used = OrderedDict()
    for info in parsed.values():
        for mid in list(info['present']) + list(info['absent']):
            used[mid] = None
    kept = select_classes(descriptions, classes, list(used), class_csv)
    cat_ids = {mid: i + 1 for i, mid in enumerate(kept)}
    skips = SkipCounter()
    dropped: Counter = Counter()
    candidates = []
    for image_id, info in parsed.items():
        for mid in list(info['present']) + list(info['absent']):
            if mid not in kept:
                dropped[f'{descriptions[mid]} ({mid})'] += 1
        present = [cat_ids[m] for m in info['present'] if m in kept]
        absent = [cat_ids[m] for m in info['absent'] if m in kept]
        if not present and not absent and unlabeled == 'ignore':
            skips.add('images with no label of the kept classes', image_id)
            continue
        path = osp.join(image_dir, image_id + image_ext)
        candidates.append((image_id, info['line'], path, present, absent))
    missing = [c for c in candidates if not osp.isfile(c[2])]
    if missing and not skip_missing:
        image_id, line, path = missing[0][:3]
        raise FileNotFoundError(
            f'{len(missing)} of {len(candidates)} images of {labels_csv} '
            f'have no file in {image_dir}: '
            f'{few(osp.basename(c[2]) for c in missing)}; the first, image '
            f'{image_id} (line {line}), should be {path} (--skip-missing '
            'leaves them out)')
    for c in missing:
        skips.add('images without a file', c[2])
    missing_ids = {c[0] for c in missing}
    images = []
    for image_id, line, path, present, absent in candidates:
        if image_id in missing_ids:
            continue
        width, height = read_image_size(path)
        file_name = relative_file_name(path, data_root,
                                       f'image {image_id} (line {line})')
        images.append(
            image_entry(
                len(images) + 1, file_name, width, height, present, absent,
                unlabeled))
    for name, n in dropped.items():
        skips.add('rows of classes not kept', f'{name}: {n} rows')
    coco = dict(
        info=dict(
            description=f'OpenImages image-level labels {labels_csv} '
            'converted by mmdet_csod.datasets.converters.openimages',
            label_rows=n_rows,
            duplicate_rows=n_dup,
            unlabeled=unlabeled),
        images=images,
        annotations=[],
        categories=make_categories(kept.values()))
    write_json(coco, out_file)
    return coco, skips
