"""The project's on-disk proposal format, and the checks applied on loading.

Format (``.npz``, read with ``allow_pickle=False``; nothing in it is pickled)::

    version     int64 scalar           format version, currently 1
    file_names  str   [N]              one key per image, as mmdet's
                                       ``proposal_file`` keys them:
                                       '<parent folder>/<file name>' of the
                                       image path (see :func:`proposal_key`)
    offsets     int64 [N + 1]          image i owns rows
                                       offsets[i]:offsets[i + 1]
    bboxes      float32 [M, 4]         x1, y1, x2, y2 in pixels of the original
                                       image, 0-based, x2/y2 exclusive
    scores      float32 [M]            objectness, or zeros when the generator
                                       has none (Selective Search); rows of an
                                       image are kept in the generator's order,
                                       which is the order ``max_num`` truncates

The file is written by :func:`save_proposals`, by the converters in
``tools/dataset_converters/`` and by the Selective Search tool.
"""
import os
import os.path as osp
import warnings
from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional, Tuple

import numpy as np

FORMAT_VERSION = 1


def proposal_key(img_path: str) -> str:
    """The key of an image in a proposal file: '<parent folder>/<file name>'.

    This is the key mmdet's ``BaseDetDataset.load_proposals`` uses, so a file
    keyed this way lines up with mmdet's own proposal path.
    """
    folder, name = osp.split(img_path)
    return osp.join(osp.split(folder)[-1], name)


def save_proposals(
        path: str, proposals: Mapping[str,
                                      Tuple[np.ndarray,
                                            Optional[np.ndarray]]]) -> None:
    """Write proposals in the project's format.

    Args:
        path (str): Output ``.npz`` file; its folder is created.
        proposals (Mapping[str, tuple]): key -> ``(bboxes [K, 4] xyxy,
            scores [K] or None)``. Keys keep their iteration order.
    """
    names, offsets, all_boxes, all_scores = [], [0], [], []
    for key, (bboxes, scores) in proposals.items():
        bboxes = np.asarray(bboxes, dtype=np.float32).reshape(-1, 4)
        if scores is None:
            scores = np.zeros(len(bboxes), dtype=np.float32)
        scores = np.asarray(scores, dtype=np.float32).reshape(-1)
        if len(scores) != len(bboxes):
            raise ValueError(
                f'{key}: {len(bboxes)} boxes but {len(scores)} scores')
        names.append(key)
        offsets.append(offsets[-1] + len(bboxes))
        all_boxes.append(bboxes)
        all_scores.append(scores)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = path + '.tmp.npz'
    np.savez_compressed(
        tmp,
        version=np.int64(FORMAT_VERSION),
        file_names=np.asarray(names, dtype=str),
        offsets=np.asarray(offsets, dtype=np.int64),
        bboxes=(np.concatenate(all_boxes) if all_boxes else np.zeros(
            (0, 4), np.float32)),
        scores=(np.concatenate(all_scores) if all_scores else np.zeros(
            (0, ), np.float32)))
    os.replace(tmp, path)


@dataclass
class ProposalFile:
    """An opened proposal file: per-image slices of two flat arrays."""
    path: str
    index: Dict[str, int]
    offsets: np.ndarray
    bboxes: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def keys(self) -> Iterable[str]:
        return self.index.keys()

    def get(self, key: str) -> Tuple[np.ndarray, np.ndarray]:
        """``(bboxes [K, 4], scores [K])`` of one image, as stored."""
        i = self.index[key]
        s, e = self.offsets[i], self.offsets[i + 1]
        return self.bboxes[s:e], self.scores[s:e]


def load_proposal_file(path: str) -> ProposalFile:
    """Open and validate a proposal file; errors name the file and field."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'proposal file not found: {path}')
    try:
        with np.load(path, allow_pickle=False) as data:
            fields = {k: data[k] for k in data.files}
    except Exception as e:  # zip, header or pickle errors
        raise ValueError(
            f'{path}: not a proposal file in the project format (.npz without '
            f'pickles; see mmdet_csod/datasets/proposals.py): {e}') from e
    missing = {'version', 'file_names', 'offsets', 'bboxes'} - set(fields)
    if missing:
        raise ValueError(f'{path}: missing field(s) {sorted(missing)}')
    version = int(fields['version'])
    if version != FORMAT_VERSION:
        raise ValueError(f'{path}: format version {version}, this code reads '
                         f'version {FORMAT_VERSION}')
    names = fields['file_names']
    offsets = fields['offsets'].astype(np.int64)
    bboxes = fields['bboxes']
    scores = fields.get('scores')
    if scores is None:
        scores = np.zeros(len(bboxes), np.float32)
    if bboxes.ndim != 2 or bboxes.shape[1] != 4:
        raise ValueError(f'{path}: field bboxes has shape {bboxes.shape}, '
                         'expected [M, 4]')
    if offsets.shape != (len(names) + 1, ) or offsets[0] != 0 \
            or offsets[-1] != len(bboxes) or np.any(np.diff(offsets) < 0):
        raise ValueError(f'{path}: field offsets does not partition the '
                         f'{len(bboxes)} boxes among {len(names)} images')
    if scores.shape != (len(bboxes), ):
        raise ValueError(f'{path}: field scores has shape {scores.shape}, '
                         f'expected [{len(bboxes)}]')
    index = {}
    for i, name in enumerate(names.tolist()):
        if name in index:
            raise ValueError(f'{path}: image key {name!r} appears twice')
        index[name] = i
    return ProposalFile(path, index, offsets, bboxes.astype(np.float32),
                        scores.astype(np.float32))


@dataclass
class ProposalStats:
    """Counts of what :func:`clean_proposals` dropped, for one warning."""
    non_finite: int = 0
    degenerate: int = 0
    truncated: int = 0
    images: int = 0

    def add(self, other: 'ProposalStats') -> None:
        self.non_finite += other.non_finite
        self.degenerate += other.degenerate
        self.truncated += other.truncated
        self.images += other.images

    def any_dropped(self) -> bool:
        return bool(self.non_finite or self.degenerate)


def clean_proposals(
    bboxes: np.ndarray,
    scores: np.ndarray,
    max_num: Optional[int] = 2000,
    min_size: float = 1.0,
    img_shape: Optional[Tuple[int, int]] = None
) -> Tuple[np.ndarray, np.ndarray, ProposalStats]:
    """Drop non-finite and degenerate boxes, clip, keep the first ``max_num``.

    Args:
        bboxes (np.ndarray): [K, 4] x1, y1, x2, y2.
        scores (np.ndarray): [K].
        max_num (int, optional): Boxes kept at most, in stored order.
        min_size (float): A box narrower or lower than this (after clipping)
            is degenerate.
        img_shape (tuple, optional): (h, w); boxes are clipped to it.

    Returns:
        tuple: bboxes [K', 4] float32, scores [K'] float32, and the counts.
    """
    stats = ProposalStats(images=1)
    bboxes = np.asarray(bboxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    finite = np.isfinite(bboxes).all(axis=1) & np.isfinite(scores)
    stats.non_finite = int((~finite).sum())
    bboxes, scores = bboxes[finite], scores[finite]
    if img_shape is not None:
        h, w = img_shape
        bboxes = bboxes.copy()
        bboxes[:, 0::2] = bboxes[:, 0::2].clip(0, w)
        bboxes[:, 1::2] = bboxes[:, 1::2].clip(0, h)
    keep = ((bboxes[:, 2] - bboxes[:, 0]) >= min_size) & \
        ((bboxes[:, 3] - bboxes[:, 1]) >= min_size)
    stats.degenerate = int((~keep).sum())
    bboxes, scores = bboxes[keep], scores[keep]
    if max_num is not None and len(bboxes) > max_num:
        stats.truncated = len(bboxes) - max_num
        bboxes, scores = bboxes[:max_num], scores[:max_num]
    return bboxes, scores, stats


def warn_dropped(stats: ProposalStats, source: str) -> None:
    """One warning that counts the boxes :func:`clean_proposals` dropped."""
    if stats.any_dropped():
        warnings.warn(
            f'{source}: dropped {stats.non_finite} non-finite and '
            f'{stats.degenerate} degenerate proposal boxes over '
            f'{stats.images} images',
            stacklevel=2)
