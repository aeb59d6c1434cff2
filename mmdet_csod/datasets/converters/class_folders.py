"""A folder per class (``ROOT/<class name>/<image>``) -> training json.

Layout read::

    ROOT/zebra/0001.jpg          image tagged 'zebra'
    ROOT/zebra/query2/0002.png   sub-folders of a class folder belong to it
    ROOT/giraffe/0001.jpg        another image (other bytes), tagged 'giraffe'
    ROOT/giraffe/0003.jpg        same bytes as ROOT/zebra/0001.jpg: one image
                                 tagged 'zebra' and 'giraffe'

* Classes: the folders directly under ``ROOT`` (the folder name is the class
  name); ``classes`` keeps only some (others skipped, counted with their
  image counts; a name without a folder is an error).
* Images: files ending in one of :data:`IMAGE_EXTENSIONS` anywhere under a
  class folder. Other files, hidden files and folders (``.*``) and files
  directly under ``ROOT`` are skipped, counted and named.
* Duplicates are decided by content: files with identical bytes (same size,
  same SHA-1) are one image, with the labels of every folder holding a copy;
  its ``file_name`` is the first copy's (classes in category order, then
  paths in sorted order), the others are counted and named. Files with the
  same name but different bytes are different images.
* ``file_name`` is relative to ``data_root`` (default ``ROOT``, so
  ``zebra/0001.jpg``): configs use that folder as ``data_root`` with
  ``data_prefix=dict(img='')``. Width and height are read from the file
  headers (EXIF rotations applied as OpenCV does).
* ``unlabeled='negative'`` (default): an image is a verified negative of
  every class whose folder does not hold it (no ``unlabeled`` field, empty
  ``negative_labels``: the absence is implied). ``'ignore'``: folders of
  search results, say, where a class not tagged may still be in the
  picture; every image gets ``"unlabeled": "ignore"`` and only its tags.
* ``categories``: ids 1..K in the order of ``classes`` when given, else the
  folders' sorted names; ``annotations``: ``[]``.
* Images whose proposal keys (parent folder + file name) collide, e.g.
  ``zebra/q/x.jpg`` and ``giraffe/q/x.jpg``, are noted: a proposal file
  cannot tell them apart.
"""
import difflib
import hashlib
import os
import os.path as osp
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from ._image_tags import (IMAGE_EXTENSIONS, SkipCounter, check_unlabeled,
                          image_entry, is_image_file, make_categories,
                          note_proposal_key_clashes, read_image_size,
                          relative_file_name, write_json)


def _sha1(path: str) -> str:
    digest = hashlib.sha1()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def list_class_folders(root: str, skips: SkipCounter) -> List[str]:
    """The class folders directly under ``root`` (sorted names); files and
    hidden entries there are counted in ``skips``."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'class-folder root not found: {root}')
    folders = []
    for name in sorted(os.listdir(root)):
        path = osp.join(root, name)
        if name.startswith('.'):
            skips.add('hidden files and folders', path)
        elif osp.isdir(path):
            folders.append(name)
        else:
            skips.add('files outside a class folder', path)
    return folders


def list_class_images(folder: str, skips: SkipCounter) -> List[str]:
    """Image files anywhere under ``folder`` (sorted walk, links followed,
    each folder once); other files and hidden entries are counted in
    ``skips``."""
    found = []
    seen = {osp.realpath(folder)}  # linked folders are walked once
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        for d in sorted(dirnames):
            if d.startswith('.'):
                skips.add('hidden files and folders', osp.join(dirpath, d))
        dirnames[:] = [
            d for d in sorted(dirnames) if not d.startswith('.')
            and osp.realpath(osp.join(dirpath, d)) not in seen
        ]
        seen.update(osp.realpath(osp.join(dirpath, d)) for d in dirnames)
        for name in sorted(filenames):
            path = osp.join(dirpath, name)
            if name.startswith('.'):
                skips.add('hidden files and folders', path)
            elif not is_image_file(name):
                skips.add('non-image files', path)
            else:
                found.append(path)
    return found


def _content_keys(paths: Sequence[str]) -> Dict[str, Tuple]:
    """path -> a key equal for files with identical bytes; only files whose
    size another file shares are hashed."""
    by_size: Dict[int, List[str]] = defaultdict(list)
    for path in paths:
        by_size[osp.getsize(path)].append(path)
    keys: Dict[str, Tuple] = {}
    for size, group in by_size.items():
        for path in group:
            keys[path] = (size, _sha1(path)) if len(group) > 1 else (size, )
    return keys


def class_folders_to_coco(
        root: str,
        out_file: Optional[str] = None,
        classes: Optional[Sequence[str]] = None,
        data_root: Optional[str] = None,
        unlabeled: str = 'negative',
        skip_unreadable: bool = False) -> Tuple[Dict, SkipCounter]:
    """Convert a folder-per-class layout into a training json.

    Args:
        root (str): ``ROOT`` holding one folder per class.
        out_file (str, optional): Where to write the json.
        classes (Sequence[str], optional): Class folders to keep (in this
            category order); None keeps every folder.
        data_root (str, optional): ``file_name`` is relative to it; defaults
            to ``root``.
        unlabeled (str): ``'negative'`` (default) or ``'ignore'``, see the
            module docstring.
        skip_unreadable (bool): Skip (count and name) files with an image
            ending that cannot be read instead of failing.

    Returns:
        tuple: The COCO dict and the :class:`SkipCounter` of what was left
        out, which copies were merged and which images share a proposal key
        (``<class>/sub/a.jpg`` in two class folders).

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: An unknown class name (no such folder; close matches
            named), a class given twice, no image at all, or an unreadable
            image; messages name the file.
    """
    check_unlabeled(unlabeled, 'unlabeled (--unlabeled)')
    data_root = root if data_root is None else data_root
    skips = SkipCounter()
    folders = list_class_folders(root, skips)
    if classes is None:
        kept = list(folders)
    else:
        kept = []
        for name in classes:
            if name in kept:
                raise ValueError(f'class {name!r} is given twice')
            if name not in folders:
                close = difflib.get_close_matches(name, folders, n=3)
                hint = f' (close: {", ".join(close)})' if close else ''
                raise ValueError(
                    f'unknown class name {name!r}: no folder {name!r} in '
                    f'{root}{hint}; its class folders: {", ".join(folders)}')
            kept.append(name)
    for name in folders:
        if name not in kept:
            skips.add('class folders not kept', osp.join(root, name))
    cat_ids = {name: i + 1 for i, name in enumerate(kept)}
    tagged = []  # (class name, path)
    for name in kept:
        paths = list_class_images(osp.join(root, name), skips)
        if not paths:
            skips.add('class folders without images', osp.join(root, name))
        tagged.extend((name, p) for p in paths)
    if not tagged:
        raise ValueError(f'{root}: no image file in the class folders '
                         f'{kept} (image files end in one of '
                         f'{", ".join(IMAGE_EXTENSIONS)})')
    keys = _content_keys([p for _, p in tagged])
    groups: 'OrderedDict[Tuple, Dict]' = OrderedDict()
    for name, path in tagged:
        group = groups.setdefault(keys[path], dict(path=path, labels=[]))
        if path != group['path']:
            skips.add('identical copies merged into one image',
                      f'{path} (= {group["path"]})')
        if cat_ids[name] not in group['labels']:
            group['labels'].append(cat_ids[name])
    images = []
    for group in groups.values():
        try:
            width, height = read_image_size(group['path'])
        except ValueError:
            if not skip_unreadable:
                raise
            skips.add('unreadable images', group['path'])
            continue
        file_name = relative_file_name(group['path'], data_root, 'image')
        images.append(
            image_entry(
                len(images) + 1, file_name, width, height, group['labels'], [],
                unlabeled))
    note_proposal_key_clashes([i['file_name'] for i in images], skips)
    coco = dict(
        info=dict(
            description=f'class folders {root} converted by '
            'mmdet_csod.datasets.converters.class_folders',
            unlabeled=unlabeled),
        images=images,
        annotations=[],
        categories=make_categories(kept))
    write_json(coco, out_file)
    return coco, skips
