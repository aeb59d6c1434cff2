"""Helpers shared by the image-level label importers.

The importers (:mod:`.openimages`, :mod:`.class_folders`, :mod:`.merge`) all
write the project's training json: COCO json whose image entries may carry

* ``image_labels``: category ids known present,
* ``negative_labels``: category ids verified absent,
* ``unlabeled``: ``'ignore'`` when the source's tags are partial (a class
  neither present nor verified absent is unknown, not a negative); when the
  field is missing the image is read as ``'negative'`` (every class not
  present is absent).
"""
import csv
import json
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Tuple

from ..proposals import proposal_key
from ._common import few

UNLABELED_MODES = ('negative', 'ignore')

#: File name endings read as images (lower case).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp',
                    '.gif')

# EXIF orientations that turn the picture by 90 degrees: the decoded image
# (OpenCV, which mmcv reads with, applies the orientation) has width and
# height swapped against the stored pixel array.
_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)


def check_unlabeled(mode: str, where: str = 'unlabeled') -> str:
    """``mode`` if it is one of :data:`UNLABELED_MODES`, else a ValueError."""
    if mode not in UNLABELED_MODES:
        raise ValueError(f'{where} must be one of {UNLABELED_MODES}, got '
                         f'{mode!r}')
    return mode


def is_image_file(path: str) -> bool:
    """Whether ``path`` ends like an image file (see
    :data:`IMAGE_EXTENSIONS`)."""
    return osp.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def read_image_size(path: str) -> Tuple[int, int]:
    """``(width, height)`` of an image as it is decoded for training.

    Only the file's header is read (PIL opens lazily). An EXIF orientation
    that turns the picture by 90 degrees swaps the two, as OpenCV (mmcv's
    decoder) applies the orientation when it loads the image.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not a readable image; the message names the file.
    """
    from PIL import Image, UnidentifiedImageError
    if not osp.isfile(path):
        raise FileNotFoundError(f'image file not found: {path}')
    try:
        with Image.open(path) as img:
            width, height = img.size
            try:
                orientation = img.getexif().get(0x0112)
            except Exception:  # a broken EXIF block: no orientation
                orientation = None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f'{path}: not a readable image: {e}') from e
    if orientation in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    if width <= 0 or height <= 0:
        raise ValueError(f'{path}: invalid image size {width}x{height}')
    return int(width), int(height)


def relative_file_name(path: str, data_root: str, what: str) -> str:
    """``path`` relative to ``data_root`` with ``/`` separators.

    Raises:
        ValueError: ``path`` is not inside ``data_root`` (a file name with
            ``..`` would leave the config's ``data_root``).
    """
    rel = osp.relpath(osp.abspath(path), osp.abspath(data_root))
    if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir +
                                                              os.sep):
        raise ValueError(f'{what} {path} is not inside the data root '
                         f'{data_root}; give a --data-root that holds it')
    return rel.replace(os.sep, '/')


class SkipCounter:
    """Counted skips by reason, each naming the items skipped.

    Example::

        skips = SkipCounter()
        skips.add('non-image files', 'cat/notes.txt')
        print(skips.summary())   # 'non-image files: 1 ['cat/notes.txt']'
    """

    def __init__(self) -> None:
        self.items: Dict[str, List[str]] = OrderedDict()

    def add(self, reason: str, item: str) -> None:
        """Record that ``item`` was skipped for ``reason``."""
        self.items.setdefault(reason, []).append(item)

    def count(self, reason: str) -> int:
        """How many items were skipped for ``reason``."""
        return len(self.items.get(reason, []))

    def as_dict(self) -> Dict[str, List[str]]:
        """reason -> the items skipped (every one)."""
        return {reason: list(items) for reason, items in self.items.items()}

    def summary(self, n: int = 5) -> str:
        """One line per reason: count and the first ``n`` items."""
        return '\n'.join(f'{reason}: {len(items)} {few(items, n)}'
                         for reason, items in self.items.items())


def note_proposal_key_clashes(file_names: Iterable[str],
                              notes: 'SkipCounter') -> None:
    """Note in ``notes`` the file names whose proposal keys (parent folder +
    file name, :func:`proposal_key`) collide: a proposal file cannot tell
    them apart, so proposals for them cannot be made or converted."""
    keys: Dict[str, str] = {}
    for name in file_names:
        key = proposal_key(name)
        if key in keys:
            notes.add(
                'images sharing a proposal key (parent folder + file name; '
                'a proposal file cannot tell them apart)',
                f'{keys[key]} / {name}')
        keys.setdefault(key, name)


def make_categories(names: Iterable[str]) -> List[Dict]:
    """COCO categories with ids 1..K in the order given."""
    return [
        dict(id=i + 1, name=name, supercategory='none')
        for i, name in enumerate(names)
    ]


def image_entry(image_id: int, file_name: str, width: int, height: int,
                present: Iterable[int], absent: Iterable[int],
                unlabeled: str) -> Dict:
    """One image of the training json (sorted label ids; ``unlabeled``
    written only when it is ``'ignore'``)."""
    entry = dict(
        id=image_id,
        file_name=file_name,
        width=width,
        height=height,
        image_labels=sorted(present),
        negative_labels=sorted(absent))
    if unlabeled == 'ignore':
        entry['unlabeled'] = 'ignore'
    return entry


def label_counts(coco: Dict) -> Dict[str, Dict[str, int]]:
    """Per category name: images where it is ``present`` / ``absent``
    (``negative_labels``, and every class not present for an image whose
    ``unlabeled`` is ``'negative'`` or missing)."""
    names = {c['id']: c['name'] for c in coco['categories']}
    counts = {n: dict(present=0, absent=0) for n in names.values()}
    for img in coco['images']:
        present = set(img.get('image_labels', ()))
        absent = set(img.get('negative_labels', ()))
        if img.get('unlabeled', 'negative') == 'negative':
            absent = set(names) - present
        for cat_id in present:
            counts[names[cat_id]]['present'] += 1
        for cat_id in absent:
            counts[names[cat_id]]['absent'] += 1
    return counts


def format_table(header: List[str], rows: List[List]) -> str:
    """A plain text table, columns padded to their widest cell."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        '  '.join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths))) for r in cells
    ]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def write_json(data: Dict, out_file: Optional[str]) -> None:
    """Write ``data`` to ``out_file`` atomically (folder created); nothing
    when ``out_file`` is None."""
    if out_file is None:
        return
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    tmp = out_file + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f)
    os.replace(tmp, out_file)


def print_label_summary(coco: Dict, skips: SkipCounter, out_file: str,
                        unlabeled: str) -> None:
    """What an importer wrote: images, per-class counts, the skips."""
    counts = label_counts(coco)
    print(f'{out_file}: {len(coco["images"])} images, '
          f'{len(coco["categories"])} classes, unlabeled={unlabeled!r}')
    rows = [[name, c['present'], c['absent']] for name, c in counts.items()]
    print(format_table(['class', 'present', 'absent'], rows))
    if skips.items:
        print('skipped or noted:\n' + skips.summary())


def load_mapping(path: Optional[str]) -> Dict[str, str]:
    """A synonym mapping ``{name: unified name}`` from a json or yaml file.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not a mapping of names to names, or a chain (a unified
            name that is itself mapped); messages name the file.
    """
    if path is None:
        return {}
    if not osp.isfile(path):
        raise FileNotFoundError(f'mapping file not found: {path}')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        if path.lower().endswith(('.yaml', '.yml')):
            import yaml
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as e:  # json or yaml syntax error
        raise ValueError(f'{path}: cannot be parsed: {e}') from e
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a mapping {{name: unified name}}, '
                         f'got {type(data).__name__}')
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, str) \
                or not value:
            raise ValueError(f'{path}: entry {key!r}: {value!r}: names must '
                             'be non-empty strings')
        if value in data and data[value] != value:
            raise ValueError(
                f'{path}: entry {key!r}: {value!r} maps to {value!r}, which '
                f'is itself mapped to {data[value]!r}; map {key!r} to the '
                'final name')
    return dict(data)


def save_counts(report: Dict, out_file: str) -> Tuple[str, str]:
    """Write the report as ``<out>.counts.json`` and the per-class table as
    ``<out>.counts.csv`` (``<out>`` = ``out_file`` without ``.json``)."""
    stem = out_file[:-5] if out_file.endswith('.json') else out_file
    json_file, csv_file = stem + '.counts.json', stem + '.counts.csv'
    write_json(report, json_file)
    header, rows = count_rows(report['counts'])
    with open(csv_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return json_file, csv_file


def count_rows(counts: Dict) -> Tuple[List[str], List[List]]:
    """The count table: one row per class, ``<source>:<count>`` columns."""
    columns = []
    first = next(iter(counts.values()), {})
    for col, c in first.items():
        columns.extend((col, k) for k in c
                       if k != 'boxes' or col == 'merged' or any(
                           per[col]['boxes'] for per in counts.values()))
    header = ['class'] + [f'{col}:{k}' for col, k in columns]
    rows = [[name] + [per[col][k] for col, k in columns]
            for name, per in counts.items()]
    return header, rows


def format_counts(report: Dict) -> str:
    """The count table as text (for printing)."""
    return format_table(*count_rows(report['counts']))
