"""Selective Search ``.mat`` files of Fast R-CNN / OICR -> project ``.npz``.

The files (e.g. ``selective_search_data/voc_2007_trainval.mat``) are MATLAB
v5/v7 files with two cell arrays of the same length N:

* ``images``: image ids as strings, e.g. ``'000005'``;
* ``boxes``: one ``[K, 4]`` double array per image, **y1, x1, y2, x2**,
  1-based with inclusive ends (MATLAB pixel indices).

Converted boxes are the project's x1, y1, x2, y2, 0-based with exclusive
x2/y2: ``x1 = X1 - 1``, ``y1 = Y1 - 1``, ``x2 = X2``, ``y2 = Y2`` (a 1-based
inclusive end is the 0-based exclusive end). Row order is kept; scores are
zeros (Selective Search has none).

Images are matched through a COCO json (e.g. from
:func:`mmdet_csod.datasets.converters.voc.voc_to_coco`): a mat id matches the
image whose ``file_name`` stem equals it. Output keys are
``proposal_key(osp.join(img_prefix, file_name))`` in json order, which is
what :class:`CSODCocoDataset` computes when ``img_prefix`` is its image
folder (``data_root`` + ``data_prefix['img']``; only the last folder matters).
"""
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np

from ._common import (few, image_keys, image_stem, load_coco_images,
                      write_matched)

_HDF5_SIGNATURE = b'\x89HDF\r\n\x1a\n'
_V73_HINT = (
    'it is a MATLAB v7.3 (HDF5) file, which scipy.io.loadmat cannot read. '
    "Re-save it as v7 in MATLAB/Octave (load('{f}'); save('{f}', 'images', "
    "'boxes', '-v7')) and run again")


def _is_v73(mat_file: str) -> bool:
    with open(mat_file, 'rb') as f:
        head = f.read(520)
    return b'MATLAB 7.3' in head[:116] or head[512:520] == _HDF5_SIGNATURE


def _cell_to_id(cell, mat_file: str, k: int) -> str:
    arr = np.asarray(cell)
    if arr.dtype.kind in 'US':
        text = ''.join(str(x) for x in arr.ravel())
    elif arr.dtype.kind in 'iuf' and arr.size == 1:
        value = arr.item()
        text = str(int(value)) if float(value).is_integer() else str(value)
    else:
        raise ValueError(f'{mat_file}: images[{k}] is not a string '
                         f'(dtype {arr.dtype}, shape {arr.shape})')
    return text.strip()


def read_oicr_mat(mat_file: str) -> Tuple[List[str], List[np.ndarray]]:
    """Read the ``images`` and ``boxes`` cells of an OICR/Fast R-CNN file.

    Args:
        mat_file (str): A MATLAB v5/v7 ``.mat`` file.

    Returns:
        tuple: ids (list of N str) and boxes (list of N float64 ``[K, 4]``
        arrays, as stored: y1, x1, y2, x2, 1-based inclusive).

    Raises:
        FileNotFoundError: No such file.
        ValueError: A v7.3 (HDF5) file (with a hint), an unreadable file,
            missing variables, lengths that differ, a box array that is not
            ``[K, 4]``, or an id listed twice; messages name the file.
    """
    import scipy.io
    if not osp.isfile(mat_file):
        raise FileNotFoundError(f'mat file not found: {mat_file}')
    if _is_v73(mat_file):
        raise ValueError(f'{mat_file}: ' + _V73_HINT.format(f=mat_file))
    try:
        data = scipy.io.loadmat(mat_file, variable_names=['images', 'boxes'])
    except NotImplementedError as e:  # scipy's own v7.3 refusal
        raise ValueError(f'{mat_file}: ' + _V73_HINT.format(f=mat_file)) \
            from e
    except Exception as e:
        raise ValueError(f'{mat_file}: cannot read as a MATLAB file: {e}') \
            from e
    missing = [v for v in ('images', 'boxes') if v not in data]
    if missing:
        raise ValueError(f'{mat_file}: no variable(s) {missing}; expected '
                         "the cell arrays 'images' and 'boxes' of an OICR / "
                         'Fast R-CNN selective_search_data file')
    images = np.asarray(data['images']).ravel()
    boxes = np.asarray(data['boxes']).ravel()
    if len(images) != len(boxes):
        raise ValueError(f'{mat_file}: {len(images)} images but '
                         f'{len(boxes)} box arrays')
    ids = [_cell_to_id(cell, mat_file, k) for k, cell in enumerate(images)]
    out = []
    for k, (img_id, cell) in enumerate(zip(ids, boxes)):
        arr = np.asarray(cell, dtype=np.float64)
        if arr.size == 0:
            arr = arr.reshape(0, 4)
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise ValueError(f'{mat_file}: boxes of image {img_id!r} '
                             f'(boxes[{k}]) have shape {arr.shape}, expected '
                             '[K, 4]')
        out.append(arr)
    counts: Dict[str, int] = {}
    for img_id in ids:
        counts[img_id] = counts.get(img_id, 0) + 1
    twice = [i for i, n in counts.items() if n > 1]
    if twice:
        raise ValueError(f'{mat_file}: image id(s) listed more than once: '
                         f'{few(twice)}')
    return ids, out


def oicr_boxes_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``[K, 4]`` y1, x1, y2, x2 (1-based, inclusive) -> ``[K, 4]`` float32
    x1, y1, x2, y2 (0-based, x2/y2 exclusive)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack(
        [boxes[:, 1] - 1, boxes[:, 0] - 1, boxes[:, 3], boxes[:, 2]],
        axis=1).astype(np.float32)


def match_ids_to_stems(ids: List[str], images: List[Dict], source: str,
                       ann_file: str) -> List[int]:
    """Positions in ``images`` of the images whose file-name stem is each id.

    A numeric id that matches no stem exactly is tried against the numeric
    stems by value (``'5'`` -> ``'000005'``). Raises ValueError naming both
    files and a few ids that match no image, or more than one.
    """
    by_stem: Dict[str, List[int]] = {}
    by_value: Dict[int, List[int]] = {}
    for i, img in enumerate(images):
        stem = image_stem(img['file_name'])
        by_stem.setdefault(stem, []).append(i)
        if stem.isdigit():
            by_value.setdefault(int(stem), []).append(i)
    positions, absent, ambiguous = [], [], []
    for img_id in ids:
        hits = by_stem.get(img_id)
        if hits is None and img_id.isdigit():
            hits = by_value.get(int(img_id))
        if not hits:
            absent.append(img_id)
        elif len(hits) > 1:
            ambiguous.append(img_id)
        else:
            positions.append(hits[0])
    if absent:
        raise ValueError(
            f'{len(absent)} of {len(ids)} image ids of {source} match no '
            f'image file name in {ann_file}: {few(absent)}. Is the proposal '
            'file made for another image set?')
    if ambiguous:
        raise ValueError(
            f'image ids of {source} match several images of {ann_file} '
            f'(same file-name stem in different folders): {few(ambiguous)}')
    return positions


def convert_oicr_mat(
    mat_file: str,
    ann_file: str,
    out_file: Optional[str] = None,
    img_prefix: str = '',
    allow_missing: bool = False
) -> Dict[str, Tuple[np.ndarray, Optional[np.ndarray]]]:
    """Convert an OICR / Fast R-CNN Selective Search ``.mat`` file.

    Args:
        mat_file (str): The ``.mat`` file (v5/v7).
        ann_file (str): COCO-style json of the same images.
        out_file (str, optional): Output ``.npz`` in the project format.
        img_prefix (str): The dataset's image folder (``data_root`` +
            ``data_prefix['img']``); keys are ``proposal_key(img_prefix /
            file_name)``.
        allow_missing (bool): Json images without proposals get zero boxes
            and one counted warning instead of an error.

    Returns:
        dict: key -> (bboxes [K, 4] float32 xyxy 0-based exclusive, scores
        None), in json order (images without proposals: empty arrays).

    Raises:
        ValueError: Mat ids absent from the json, json images without
            proposals (unless ``allow_missing``), or a bad mat file.
    """
    ids, boxes = read_oicr_mat(mat_file)
    images = load_coco_images(ann_file)
    keys = image_keys(images, img_prefix, ann_file)
    positions = match_ids_to_stems(ids, images, mat_file, ann_file)
    matched = {}
    for pos, img_id, arr in zip(positions, ids, boxes):
        if pos in matched:
            raise ValueError(f'{mat_file}: two ids match image '
                             f'{images[pos]["file_name"]!r} of {ann_file} '
                             f'(one is {img_id!r})')
        matched[pos] = (oicr_boxes_to_xyxy(arr), None)
    return write_matched(out_file, images, keys, matched, ann_file, mat_file,
                         allow_missing)
