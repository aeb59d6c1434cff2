"""The project's on-disk proposal format, and the checks applied on loading.

Format (``.npz``, read with ``allow_pickle=False``; nothing in it is pickled)::

    version     int64 scalar           format version, currently 2
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

Version 2 stores every member uncompressed, so ``bboxes`` and ``scores`` are
read where they lie in the file: :func:`load_proposal_file` reads only the
names and offsets (a few MB for COCO), an image's rows are read, with one
positioned read, when its sample is, and :attr:`ProposalFile.bboxes`
memory-maps the whole array for a pass over every row. Version 1 files
(the same fields, zip-compressed) still load, whole into memory, with a
warning; ``tools/dataset_converters/proposals_to_mmap.py IN OUT`` rewrites
one as version 2 without holding it in memory.

Files are written by :func:`save_proposals` (or :func:`write_proposal_file`,
which streams), by the converters in ``tools/dataset_converters/`` and by the
Selective Search tool.
"""
import os
import os.path as osp
import warnings
import zipfile
from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

import numpy as np

from .npz_members import NpzStreamWriter, StoredMember, member_layout

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
CONVERT_CMD = 'python tools/dataset_converters/proposals_to_mmap.py'
_CHUNK_ROWS = 1 << 20


def proposal_key(img_path: str) -> str:
    """The key of an image in a proposal file: '<parent folder>/<file name>'.

    This is the key mmdet's ``BaseDetDataset.load_proposals`` uses, so a file
    keyed this way lines up with mmdet's own proposal path.
    """
    folder, name = osp.split(img_path)
    return osp.join(osp.split(folder)[-1], name)


def write_proposal_file(
        path: str,
        file_names: Sequence[str],
        offsets: np.ndarray,
        bbox_chunks: Iterable[np.ndarray],
        score_chunks: Optional[Iterable[np.ndarray]] = None) -> None:
    """Write a version-2 file from row chunks, without holding it whole.

    Args:
        path (str): Output ``.npz``; its folder is created. Written beside it
            and moved there when complete.
        file_names (Sequence[str]): The N image keys.
        offsets (np.ndarray): [N + 1] row offsets, from 0 to M.
        bbox_chunks (Iterable[np.ndarray]): [k, 4] chunks of the M rows.
        score_chunks (Iterable[np.ndarray], optional): [k] chunks of the M
            scores; zeros when None.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    total = int(offsets[-1]) if len(offsets) else 0
    if offsets.shape != (len(file_names) + 1, ) or offsets[0] != 0 or \
            np.any(np.diff(offsets) < 0):
        raise ValueError(f'{path}: offsets must rise from 0 over '
                         f'{len(file_names) + 1} entries')
    if score_chunks is None:
        score_chunks = (
            np.zeros(min(_CHUNK_ROWS, total - s), np.float32)
            for s in range(0, total, _CHUNK_ROWS))
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with NpzStreamWriter(path) as w:
        w.write('version', np.int64(FORMAT_VERSION))
        w.write('file_names', np.asarray(list(file_names), dtype=str))
        w.write('offsets', offsets)
        w.write_chunks('bboxes', np.float32, (total, 4), bbox_chunks)
        w.write_chunks('scores', np.float32, (total, ), score_chunks)


def save_proposals(
        path: str, proposals: Mapping[str,
                                      Tuple[np.ndarray,
                                            Optional[np.ndarray]]]) -> None:
    """Write proposals in the project's format (version 2).

    Args:
        path (str): Output ``.npz`` file; its folder is created.
        proposals (Mapping[str, tuple]): key -> ``(bboxes [K, 4] xyxy,
            scores [K] or None)``. Keys keep their iteration order.
    """
    names, offsets = [], [0]
    for key, (bboxes, scores) in proposals.items():
        n = np.asarray(bboxes).reshape(-1, 4).shape[0]
        if scores is not None and np.asarray(scores).reshape(-1).size != n:
            raise ValueError(f'{key}: {n} boxes but '
                             f'{np.asarray(scores).size} scores')
        names.append(key)
        offsets.append(offsets[-1] + n)

    def scores_of(item):
        bboxes, scores = item
        if scores is None:
            return np.zeros(len(np.asarray(bboxes).reshape(-1, 4)), np.float32)
        return np.asarray(scores, np.float32).reshape(-1)

    write_proposal_file(path, names, np.asarray(offsets, np.int64),
                        (np.asarray(b, np.float32).reshape(-1, 4)
                         for b, _ in proposals.values()),
                        (scores_of(item) for item in proposals.values()))


class ProposalFile:
    """An opened proposal file: per-image row ranges of two flat arrays.

    ``bboxes`` and ``scores`` are :class:`StoredMember` (version 2: read in
    place, the file opened lazily in each process, never pickled) or arrays
    in memory (version 1). The names and the key index can be dropped with
    :meth:`forget_keys` once each image's rows are known, leaving only what
    :meth:`read` needs.
    """

    def __init__(self, path: str, names: np.ndarray, offsets: np.ndarray,
                 bboxes, scores) -> None:
        self.path = path
        self.names: Optional[np.ndarray] = names
        self.offsets: Optional[np.ndarray] = offsets
        self._bboxes = bboxes
        self._scores = scores
        self._index: Optional[Dict[str, int]] = None

    @property
    def mapped(self) -> bool:
        """Whether rows are read from the file in place (not in memory)."""
        return isinstance(self._bboxes, StoredMember)

    @property
    def num_boxes(self) -> int:
        return len(self._bboxes)

    @property
    def bboxes(self) -> np.ndarray:
        """All [M, 4] boxes (a read-only view of the mapping, or in memory)."""
        b = self._bboxes
        return b.array() if isinstance(b, StoredMember) else b

    @property
    def scores(self) -> np.ndarray:
        """All [M] scores."""
        s = self._scores
        return s.array() if isinstance(s, StoredMember) else s

    @property
    def index(self) -> Dict[str, int]:
        """key -> image position in the file."""
        if self._index is None:
            if self.names is None:
                raise RuntimeError(f'{self.path}: keys were dropped')
            self._index = {k: i for i, k in enumerate(self.names.tolist())}
        return self._index

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def keys(self) -> Iterable[str]:
        return self.index.keys()

    def rows(self, key: str) -> Tuple[int, int]:
        """``(start, end)``: the rows of image ``key``."""
        i = self.index[key]
        return int(self.offsets[i]), int(self.offsets[i + 1])

    def read(self, start: int, end: int) -> Tuple[np.ndarray, np.ndarray]:
        """Copies of rows ``start:end``: ``(bboxes [K, 4], scores [K])``."""
        out = []
        for member in (self._bboxes, self._scores):
            if isinstance(member, StoredMember):
                out.append(member.read(start, end).astype(np.float32))
            else:
                out.append(np.array(member[start:end], np.float32))
        return out[0], out[1]

    def get(self, key: str) -> Tuple[np.ndarray, np.ndarray]:
        """``(bboxes [K, 4], scores [K])`` of one image, as stored."""
        return self.read(*self.rows(key))

    def forget_keys(self) -> None:
        """Drop names, offsets and index (rows are then read by number)."""
        self.names = self.offsets = self._index = None

    def close(self) -> None:
        """Unmap this process's mappings (made again on the next read)."""
        for member in (self._bboxes, self._scores):
            if isinstance(member, StoredMember):
                member.close()


def check_offsets(path: str, names: np.ndarray, offsets: np.ndarray,
                  num_boxes: int) -> None:
    """Offsets [N + 1] must rise from 0 to ``num_boxes``; errors name the
    file and the first image whose rows they get wrong."""
    if offsets.ndim != 1 or offsets.dtype.kind not in 'iu':
        raise ValueError(f'{path}: field offsets must be a 1-D integer array,'
                         f' got {offsets.dtype} of shape {offsets.shape}')
    if offsets.shape != (len(names) + 1, ):
        raise ValueError(f'{path}: field offsets has {len(offsets)} entries,'
                         f' expected {len(names) + 1} (images + 1)')
    if len(offsets) and offsets[0] != 0:
        raise ValueError(f'{path}: field offsets starts at {offsets[0]}, '
                         'expected 0')
    falls = np.flatnonzero(np.diff(offsets) < 0)
    if len(falls):
        i = int(falls[0])
        raise ValueError(
            f'{path}: field offsets is not monotonic: image {i} '
            f'({str(names[i])!r}) would own rows {offsets[i]}:{offsets[i + 1]}'
        )
    if offsets[-1] != num_boxes:
        raise ValueError(f'{path}: field offsets ends at {offsets[-1]} but '
                         f'field bboxes has {num_boxes} rows')


def load_proposal_file(path: str) -> ProposalFile:
    """Open and validate a proposal file; errors name the file and field.

    Only the names and offsets are read; ``bboxes`` and ``scores`` of a
    version-2 file are read in place, those of a version-1 file (compressed)
    are read whole, with a warning naming the converter.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'proposal file not found: {path}')
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(
            f'{path}: not a proposal file in the project format (.npz without '
            f'pickles; see mmdet_csod/datasets/proposals.py): {e}') from e
    with zf, np.load(path, allow_pickle=False) as data:
        fields = set(data.files)
        missing = {'version', 'file_names', 'offsets', 'bboxes'} - fields
        if missing:
            raise ValueError(f'{path}: missing field(s) {sorted(missing)}')
        try:
            version = int(data['version'])
            names = data['file_names']
            offsets = data['offsets']
            members = {}
            for name in ('bboxes', 'scores'):
                if name not in fields:
                    continue
                layout = member_layout(path, zf, name)
                members[name] = (
                    StoredMember(path, layout) if layout else data[name])
        except ValueError as e:
            if str(e).startswith(path):
                raise
            raise ValueError(f'{path}: unreadable field ({e})') from e
        except zipfile.BadZipFile as e:
            raise ValueError(f'{path}: corrupt zip member ({e})') from e
    if version not in READABLE_VERSIONS:
        raise ValueError(f'{path}: format version {version}, this code reads '
                         f'versions {READABLE_VERSIONS}')
    bboxes = members['bboxes']
    if len(bboxes.shape) != 2 or bboxes.shape[1] != 4 or \
            bboxes.dtype.kind not in 'fiu':
        raise ValueError(f'{path}: field bboxes is {bboxes.dtype} of shape '
                         f'{bboxes.shape}, expected numbers of shape [M, 4]')
    scores = members.get('scores')
    if scores is None:
        scores = np.zeros(len(bboxes), np.float32)
    if tuple(
            scores.shape) != (len(bboxes), ) or scores.dtype.kind not in 'fiu':
        raise ValueError(f'{path}: field scores is {scores.dtype} of shape '
                         f'{scores.shape}, expected numbers of shape '
                         f'[{len(bboxes)}]')
    if names.ndim != 1 or names.dtype.kind != 'U':
        raise ValueError(f'{path}: field file_names must be a 1-D str array, '
                         f'got {names.dtype} of shape {names.shape}')
    check_offsets(path, names, offsets, len(bboxes))
    pfile = ProposalFile(path, names, offsets.astype(np.int64), bboxes, scores)
    if len(pfile.index) != len(names):
        seen = set()
        for name in names.tolist():
            if name in seen:
                raise ValueError(f'{path}: image key {name!r} appears twice')
            seen.add(name)
    if not pfile.mapped:
        warnings.warn(
            f'{path}: proposals stored compressed (format version {version}) '
            f'are read whole into memory ({len(bboxes)} boxes); convert it '
            f'once to read them in place: {CONVERT_CMD} {path} OUT.npz',
            stacklevel=2)
    return pfile


@dataclass
class ProposalStats:
    """Counts of what :func:`clean_proposals` dropped, for one warning."""
    non_finite: int = 0
    degenerate: int = 0
    near_duplicate: int = 0
    truncated: int = 0
    images: int = 0

    def add(self, other: 'ProposalStats') -> None:
        self.non_finite += other.non_finite
        self.degenerate += other.degenerate
        self.near_duplicate += other.near_duplicate
        self.truncated += other.truncated
        self.images += other.images

    def any_dropped(self) -> bool:
        return bool(self.non_finite or self.degenerate)


def check_nms_iou(nms_iou: Optional[float], name: str = 'nms_iou') -> None:
    """Raise ValueError unless ``nms_iou`` is None or a number in (0, 1]."""
    if nms_iou is None:
        return
    if isinstance(nms_iou, bool) or not isinstance(nms_iou, (int, float)) \
            or not 0 < nms_iou <= 1:
        raise ValueError(f'{name} must be None or a number in (0, 1], got '
                         f'{nms_iou!r}')


def distinct_in_order(bboxes: np.ndarray, nms_iou: float) -> np.ndarray:
    """Indices of the boxes kept by a greedy NMS that follows the given order.

    A box is dropped when its IoU with an earlier kept box is above
    ``nms_iou``: the order of a proposal file (Selective Search's ranking,
    or a generator's scores) decides which of two near-duplicates stays,
    as a score order decides in an RPN's NMS. mmcv's ``nms`` does the work,
    given the negated positions as scores.

    Args:
        bboxes (np.ndarray): [K, 4] x1, y1, x2, y2, finite.
        nms_iou (float): In (0, 1]; 1 keeps every box.

    Returns:
        np.ndarray: [K'] int64 positions, ascending.
    """
    if len(bboxes) < 2 or nms_iou >= 1:
        return np.arange(len(bboxes))
    import torch
    from mmcv.ops import nms
    boxes = torch.from_numpy(np.ascontiguousarray(bboxes, dtype=np.float32))
    rank = -torch.arange(len(boxes), dtype=torch.float32)
    _, keep = nms(boxes, rank, float(nms_iou))
    return np.sort(keep.numpy()).astype(np.int64)


def clean_proposals(
    bboxes: np.ndarray,
    scores: np.ndarray,
    max_num: Optional[int] = 2000,
    min_size: float = 1.0,
    img_shape: Optional[Tuple[int, int]] = None,
    nms_iou: Optional[float] = None
) -> Tuple[np.ndarray, np.ndarray, ProposalStats]:
    """Drop non-finite and degenerate boxes, clip, drop near-duplicates, keep
    the first ``max_num``.

    Args:
        bboxes (np.ndarray): [K, 4] x1, y1, x2, y2.
        scores (np.ndarray): [K].
        max_num (int, optional): Boxes kept at most, in stored order.
        min_size (float): A box narrower or lower than this (after clipping)
            is degenerate.
        img_shape (tuple, optional): (h, w); boxes are clipped to it.
        nms_iou (float, optional): Before the first ``max_num`` are taken, a
            box whose IoU with an earlier kept one is above this is dropped
            (:func:`distinct_in_order`), so the ``max_num`` boxes are
            distinct ones. None keeps near-duplicates.

    Returns:
        tuple: bboxes [K', 4] float32, scores [K'] float32, and the counts.
    """
    check_nms_iou(nms_iou)
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
    if nms_iou is not None:
        distinct = distinct_in_order(bboxes, nms_iou)
        stats.near_duplicate = len(bboxes) - len(distinct)
        bboxes, scores = bboxes[distinct], scores[distinct]
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
