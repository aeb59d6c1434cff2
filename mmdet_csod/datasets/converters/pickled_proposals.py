"""Pickled proposal dicts of pcl.pytorch / wetectron -> project ``.npz``.

The pickle holds a dict with

* ``boxes``: list of N ``[K, 4]`` arrays, x1, y1, x2, y2, 0-based with
  **inclusive** x2/y2 (Detectron's convention);
* ``scores`` (optional): list of N ``[K]`` arrays;
* image ids under ``indexes`` (pcl.pytorch) or ``ids`` (wetectron): ints or
  strings.

Boxes become the project's 0-based exclusive x1, y1, x2 + 1, y2 + 1; row
order is kept; missing scores become zeros.

Ids are matched to a COCO json (e.g. from
:func:`mmdet_csod.datasets.converters.voc.voc_to_coco`, whose default image
ids are the ones of Detectron's VOC jsons) in one of two ways, chosen for the
whole file (``match_by='auto'`` takes the first that matches every id):

* ``'id'``: the id (an int, or a string of digits) is a json image ``id``;
* ``'stem'``: the id (as a string; an int also by value against numeric
  stems) is the stem of a json image ``file_name``.

If both match every id but pair them with different images, that is an error
asking for an explicit ``match_by``.

Pickles are read with :class:`RestrictedUnpickler`, which only rebuilds numpy
arrays, dtypes and scalars and refuses every other global, so a pickle from
elsewhere cannot run code; ``encoding='latin1'`` reads Python 2 pickles.
"""
import importlib
import io
import os.path as osp
import pickle
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ._common import (few, image_keys, image_stem, load_coco_images,
                      write_matched)

# (module, name) pairs a pickle of plain containers of numpy arrays needs.
# numpy < 2 writes numpy.core.*, numpy >= 2 numpy._core.*; both are accepted
# and resolved against whichever the installed numpy has.
_NUMPY_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
    # protocol-5 pickles of contiguous arrays: _frombuffer(bytes, dtype, ...)
    ('numpy.core.numeric', '_frombuffer'),
    ('numpy._core.numeric', '_frombuffer'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
}
# Protocol 0-2 pickles written by Python 3 store the raw bytes of an array as
# codecs.encode(latin1_text, 'latin1'), which only turns a str into bytes.
_BYTES_GLOBALS = {('_codecs', 'encode'), ('codecs', 'encode')}
ALLOWED_GLOBALS = frozenset(_NUMPY_GLOBALS | _BYTES_GLOBALS)

ID_FIELDS = ('indexes', 'ids')
MATCH_MODES = ('auto', 'id', 'stem')


class ForbiddenGlobalError(pickle.UnpicklingError):
    """A pickle asked for a global outside :data:`ALLOWED_GLOBALS`."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds numpy arrays, dtypes and scalars.

    Any global outside :data:`ALLOWED_GLOBALS` (``os.system``, ``eval``, a
    class of some package...) raises :class:`pickle.UnpicklingError` naming
    it (:class:`ForbiddenGlobalError`), before anything is called.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise ForbiddenGlobalError(
                f'refusing to load global {module}.{name}: only numpy '
                'arrays, dtypes and scalars are allowed in a proposal pickle')
        if (module, name) in _BYTES_GLOBALS:
            import codecs
            return codecs.encode
        # numpy.core <-> numpy._core, preferring the installed spelling
        tail = module.split('.', 2)[2:]  # ['multiarray'] or []
        candidates = [module]
        if tail:
            candidates = [f'numpy._core.{tail[0]}', f'numpy.core.{tail[0]}']
        for mod_name in candidates:
            try:
                return getattr(importlib.import_module(mod_name), name)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(
            f'cannot resolve {module}.{name} with numpy {np.__version__}')


def load_restricted_pickle(path: str) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (latin1 strings).

    Raises:
        FileNotFoundError: No such file.
        ValueError: A refused global or a corrupt pickle; names the file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'pickle file not found: {path}')
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        return RestrictedUnpickler(io.BytesIO(raw), encoding='latin1').load()
    except ForbiddenGlobalError as e:
        raise ValueError(f'{path}: {e}') from e
    except Exception as e:  # truncated / not a pickle
        raise ValueError(f'{path}: cannot unpickle: {type(e).__name__}: {e}') \
            from e


def _as_id(value: Any) -> Any:
    """An id as a python int or str (numpy scalars, bytes, 0-d arrays)."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode('latin1')
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        value = value.strip()
    if not isinstance(value, (int, str)) or isinstance(value, bool):
        raise TypeError(f'id {value!r} is neither an int nor a string')
    return value


def read_pickled_proposals(
    pkl_file: str
) -> Tuple[List[Any], List[np.ndarray], Optional[List[np.ndarray]]]:
    """Read a pcl.pytorch / wetectron proposal pickle.

    Returns:
        tuple: ids (N ints/strs), boxes (N float64 ``[K, 4]`` arrays as
        stored: 0-based x1, y1, x2, y2 with inclusive x2/y2) and scores (N
        float64 ``[K]`` arrays, or None).

    Raises:
        ValueError: Not a dict, neither ``indexes`` nor ``ids``, no
            ``boxes``, lengths that differ, bad shapes, repeated ids; messages
            name the file.
    """
    data = load_restricted_pickle(pkl_file)
    if not isinstance(data, dict):
        raise ValueError(f'{pkl_file}: holds a {type(data).__name__}, '
                         "expected a dict with 'boxes' and 'indexes' or 'ids'")
    id_field = next((k for k in ID_FIELDS if k in data), None)
    if id_field is None:
        raise ValueError(f'{pkl_file}: the dict has neither {ID_FIELDS[0]!r} '
                         f'(pcl.pytorch) nor {ID_FIELDS[1]!r} (wetectron); '
                         f'its keys are {sorted(map(str, data))}')
    if 'boxes' not in data:
        raise ValueError(f'{pkl_file}: the dict has no \'boxes\'; its keys '
                         f'are {sorted(map(str, data))}')
    raw_ids, raw_boxes = list(data[id_field]), list(data['boxes'])
    raw_scores = data.get('scores')
    raw_scores = None if raw_scores is None else list(raw_scores)
    lengths = {id_field: len(raw_ids), 'boxes': len(raw_boxes)}
    if raw_scores is not None:
        lengths['scores'] = len(raw_scores)
    if len(set(lengths.values())) > 1:
        raise ValueError(f'{pkl_file}: lengths differ: {lengths}')
    ids = []
    for k, value in enumerate(raw_ids):
        try:
            ids.append(_as_id(value))
        except TypeError as e:
            raise ValueError(f'{pkl_file}: {id_field}[{k}]: {e}') from None
    counts: Dict[Any, int] = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    twice = [i for i, n in counts.items() if n > 1]
    if twice:
        raise ValueError(f'{pkl_file}: id(s) listed more than once: '
                         f'{few(twice)}')
    boxes, scores = [], None if raw_scores is None else []
    for k, img_id in enumerate(ids):
        arr = np.asarray(raw_boxes[k], dtype=np.float64)
        if arr.size == 0:
            arr = arr.reshape(0, 4)
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise ValueError(f'{pkl_file}: boxes of id {img_id!r} have shape '
                             f'{arr.shape}, expected [K, 4]')
        boxes.append(arr)
        if scores is not None:
            sc = np.asarray(raw_scores[k], dtype=np.float64).reshape(-1)
            if len(sc) != len(arr):
                raise ValueError(f'{pkl_file}: id {img_id!r} has {len(arr)} '
                                 f'boxes but {len(sc)} scores')
            scores.append(sc)
    return ids, boxes, scores


def detectron_boxes_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``[K, 4]`` x1, y1, x2, y2 with inclusive x2/y2 -> ``[K, 4]`` float32
    with exclusive x2/y2 (x2 + 1, y2 + 1)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    boxes[:, 2:] += 1
    return boxes.astype(np.float32)


def _match_by_id(ids, images) -> Tuple[Dict[Any, int], List[Any]]:
    by_id: Dict[int, int] = {}
    for i, img in enumerate(images):
        try:
            by_id.setdefault(int(img['id']), i)
        except (TypeError, ValueError):
            continue
    found, absent = {}, []
    for img_id in ids:
        value = img_id if isinstance(img_id, int) else \
            (int(img_id) if img_id.isdigit() else None)
        if value in by_id:
            found[img_id] = by_id[value]
        else:
            absent.append(img_id)
    return found, absent


def _match_by_stem(ids, images) -> Tuple[Dict[Any, int], List[Any]]:
    by_stem: Dict[str, List[int]] = {}
    by_value: Dict[int, List[int]] = {}
    for i, img in enumerate(images):
        stem = image_stem(img['file_name'])
        by_stem.setdefault(stem, []).append(i)
        if stem.isdigit():
            by_value.setdefault(int(stem), []).append(i)
    found, absent = {}, []
    for img_id in ids:
        hits = by_value.get(img_id) if isinstance(img_id, int) else \
            by_stem.get(img_id)
        if hits is None and isinstance(img_id, str) and img_id.isdigit():
            hits = by_value.get(int(img_id))
        if hits and len(hits) == 1:
            found[img_id] = hits[0]
        else:
            absent.append(img_id)
    return found, absent


def match_ids(ids: List[Any], images: List[Dict], match_by: str, source: str,
              ann_file: str) -> List[int]:
    """Positions in ``images`` of the images the ids name (see the module
    docstring for ``match_by``); errors name both files and a few ids."""
    if match_by not in MATCH_MODES:
        raise ValueError(f'match_by must be one of {MATCH_MODES}, got '
                         f'{match_by!r}')
    modes = ('id', 'stem') if match_by == 'auto' else (match_by, )
    results = {}
    for mode in modes:
        fn = _match_by_id if mode == 'id' else _match_by_stem
        results[mode] = fn(ids, images)
    complete = [m for m in modes if not results[m][1]]
    if not complete:
        mode = min(modes, key=lambda m: len(results[m][1]))
        absent = results[mode][1]
        how = {'id': 'json image id', 'stem': 'image file-name stem'}
        tried = ' or '.join(how[m] for m in modes)
        raise ValueError(
            f'{len(absent)} of {len(ids)} ids of {source} match no '
            f'{tried} in {ann_file}: {few(absent)}. Is the proposal file made '
            'for another image set?')
    if len(complete) > 1 and results['id'][0] != results['stem'][0]:
        raise ValueError(
            f'ids of {source} match {ann_file} both as image ids and as '
            'file-name stems, but pair them with different images; choose '
            "one with match_by='id' or 'stem' (--match-by)")
    found = results[complete[0]][0]
    return [found[i] for i in ids]


def convert_pickled_proposals(
    pkl_file: str,
    ann_file: str,
    out_file: Optional[str] = None,
    img_prefix: str = '',
    allow_missing: bool = False,
    match_by: str = 'auto'
) -> Dict[str, Tuple[np.ndarray, Optional[np.ndarray]]]:
    """Convert a pcl.pytorch / wetectron proposal pickle.

    Args:
        pkl_file (str): The pickle.
        ann_file (str): COCO-style json of the same images.
        out_file (str, optional): Output ``.npz`` in the project format.
        img_prefix (str): The dataset's image folder (``data_root`` +
            ``data_prefix['img']``); keys are ``proposal_key(img_prefix /
            file_name)``.
        allow_missing (bool): Json images without proposals get zero boxes
            and one counted warning instead of an error.
        match_by (str): 'auto', 'id' or 'stem' (module docstring).

    Returns:
        dict: key -> (bboxes [K, 4] float32 xyxy 0-based exclusive, scores
        [K] float32 or None), in json order.
    """
    ids, boxes, scores = read_pickled_proposals(pkl_file)
    images = load_coco_images(ann_file)
    keys = image_keys(images, img_prefix, ann_file)
    positions = match_ids(ids, images, match_by, pkl_file, ann_file)
    matched = {}
    for k, pos in enumerate(positions):
        if pos in matched:
            raise ValueError(f'{pkl_file}: two ids match image '
                             f'{images[pos]["file_name"]!r} of {ann_file} '
                             f'(one is {ids[k]!r})')
        sc = None if scores is None else scores[k].astype(np.float32)
        matched[pos] = (detectron_boxes_to_xyxy(boxes[k]), sc)
    return write_matched(out_file, images, keys, matched, ann_file, pkl_file,
                         allow_missing)
