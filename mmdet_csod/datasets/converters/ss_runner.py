"""Selective Search over a whole image set, in parallel and resumable.

Results go to one ``.npz`` in the project format
(:mod:`mmdet_csod.datasets.proposals`): keys ``proposal_key(image path)``,
boxes x1, y1, x2, y2 in pixels of the original image (0-based, x2/y2
exclusive), in OpenCV's order (its pseudo-random ranking, seeded per image
so that runs are reproducible), scores zeros.

Resuming: images are split, in the given order, into shards of
``shard_size``; each finished shard is written at once (atomically) to
``{out_file}.parts/shard_{index:06d}.npz`` (same format). A later run with
the same settings reuses every shard on disk whose image keys equal the ones
it would compute (others are recomputed and overwritten), then merges all
shards into ``out_file`` and removes the ``.parts`` folder. The settings of
a run (mode, max_side, min_size, seed) are kept in
``{out_file}.parts/meta.json``; a run with other settings refuses to mix with
them, and a lock file keeps two runs from writing the same shards.
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..proposals import load_proposal_file, proposal_key, save_proposals
from ._common import Progress, few, load_coco_images, pool_context
from .selective_search import SS_MODES, selective_search

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp',
                  '.ppm', '.pgm')
META_NAME = 'meta.json'


def images_from_ann(ann_file: str, img_prefix: str = '') -> List[str]:
    """Image paths ``img_prefix/file_name`` of a COCO json, in json order."""
    return [
        osp.join(img_prefix, img['file_name'])
        for img in load_coco_images(ann_file)
    ]


def images_in_dir(img_dir: str,
                  extensions: Sequence[str] = IMG_EXTENSIONS) -> List[str]:
    """Image files directly in ``img_dir`` (not in subfolders), sorted."""
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'image folder not found: {img_dir}')
    exts = tuple(e.lower() for e in extensions)
    return [
        osp.join(img_dir, name) for name in sorted(os.listdir(img_dir))
        if name.lower().endswith(exts) and osp.isfile(osp.join(img_dir, name))
    ]


def parts_dir(out_file: str) -> str:
    """The folder of the shards of ``out_file``: ``{out_file}.parts``."""
    return out_file + '.parts'


def shard_path(out_file: str, index: int) -> str:
    return osp.join(parts_dir(out_file), f'shard_{index:06d}.npz')


def _init_worker() -> None:
    import cv2
    cv2.setNumThreads(1)


def _ss_task(
    task: Tuple[int, int, str, str, Optional[int], int, Optional[int]]
) -> Tuple[int, int, np.ndarray]:
    """(shard, position, path, mode, max_side, min_size, seed) -> (shard,
    position, boxes [K, 4])."""
    shard, pos, path, mode, max_side, min_size, seed = task
    import cv2
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'cannot read image {path} (missing, corrupt or an '
                         'unsupported format)')
    try:
        boxes = selective_search(
            img, mode=mode, max_side=max_side, min_size=min_size, seed=seed)
    except Exception as e:
        raise RuntimeError(f'Selective Search failed on {path}: {e}') from e
    return shard, pos, boxes


class _RunLock:
    """An exclusive ``flock`` on ``{parts}/.lock`` for the whole run, so two
    runs never write the same shards (released by the OS if a run dies)."""

    def __init__(self, parts: str) -> None:
        self.path = osp.join(parts, '.lock')
        self.file = None

    def __enter__(self) -> '_RunLock':
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return self
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        self.file = open(self.path, 'a+')
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.file.seek(0)
            owner = self.file.read().strip() or '?'
            self.file.close()
            self.file = None
            raise RuntimeError(
                f'another Selective Search run (pid {owner}) is writing to '
                f'{osp.dirname(self.path)}; wait for it to finish or stop it '
                'before resuming') from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(str(os.getpid()))
        self.file.flush()
        return self

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()  # releases the flock
            self.file = None


def _check_meta(parts: str, meta: Dict) -> None:
    path = osp.join(parts, META_NAME)
    if osp.isfile(path):
        try:
            with open(path) as f:
                old = json.load(f)
        except (OSError, json.JSONDecodeError):
            old = None
        if old is not None and old != meta:
            raise ValueError(
                f'{parts} holds shards of an interrupted run with other '
                f'settings ({old}, now {meta}); rerun with those settings to '
                'resume it, or delete the folder to start over')
    os.makedirs(parts, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(meta, f)


def _shard_is_valid(path: str, keys: List[str]) -> bool:
    if not osp.isfile(path):
        return False
    try:
        pfile = load_proposal_file(path)
    except (ValueError, OSError):
        return False
    return list(pfile.keys()) == keys


def _run_locked(img_paths: List[str], keys: List[str], out_file: str,
                parts: str, mode: str, max_side: Optional[int], min_size: int,
                seed: Optional[int], workers: int, shard_size: int,
                progress: bool) -> Tuple[int, int, int]:
    """The body of :func:`run_selective_search`, under the run lock.

    Returns (images computed, shards reused, boxes in the output).
    """
    _check_meta(
        parts,
        dict(mode=mode, max_side=max_side, min_size=min_size, seed=seed))
    shards = [
        list(range(s, min(s + shard_size, len(img_paths))))
        for s in range(0, len(img_paths), shard_size)
    ]
    todo, reused = [], 0
    for i, members in enumerate(shards):
        if _shard_is_valid(
                shard_path(out_file, i), [keys[j] for j in members]):
            reused += 1
        else:
            todo.append(i)
    tasks = [(i, j, img_paths[j], mode, max_side, min_size, seed) for i in todo
             for j in shards[i]]

    buffers: Dict[int, Dict[int, np.ndarray]] = {i: {} for i in todo}
    bar = Progress(len(tasks), progress)

    def collect(result: Tuple[int, int, np.ndarray]) -> None:
        i, j, boxes = result
        buffers[i][j] = boxes
        bar.update()
        if len(buffers[i]) == len(shards[i]):
            done = buffers.pop(i)
            save_proposals(
                shard_path(out_file, i),
                {keys[j]: (done[j], None)
                 for j in shards[i]})

    try:
        if workers == 1 or len(tasks) <= 1:
            for task in tasks:
                collect(_ss_task(task))
        elif tasks:
            with pool_context(__name__).Pool(
                    min(workers, len(tasks)),
                    initializer=_init_worker) as pool:
                for result in pool.imap_unordered(_ss_task, tasks):
                    collect(result)
    finally:
        bar.close()

    merged, n_boxes = {}, 0
    for i in range(len(shards)):
        pfile = load_proposal_file(shard_path(out_file, i))
        for key in pfile.keys():
            merged[key] = pfile.get(key)
            n_boxes += len(merged[key][0])
    save_proposals(out_file, merged)
    return len(tasks), reused, n_boxes


def run_selective_search(img_paths: Sequence[str],
                         out_file: str,
                         mode: str = 'fast',
                         max_side: Optional[int] = None,
                         min_size: int = 2,
                         seed: Optional[int] = 0,
                         workers: int = 1,
                         shard_size: int = 100,
                         keep_parts: bool = False,
                         progress: bool = True) -> Dict[str, int]:
    """Selective Search on every image; write ``out_file`` (resumable).

    Args:
        img_paths (Sequence[str]): Image files, in output order. Their keys
            ``proposal_key(path)`` (parent folder + file name) must be unique.
        out_file (str): Output ``.npz`` (project format).
        mode (str): 'fast', 'quality' or 'single'
            (see :func:`selective_search`).
        max_side (int, optional): Run on a copy at most this long (boxes are
            scaled back to the original image).
        min_size (int): Boxes narrower or lower than this are dropped.
        seed (int, optional): Seed of OpenCV's pseudo-random region ranking,
            set before every image, so results do not depend on the worker
            or on the order images are processed in (see
            :func:`selective_search`).
        workers (int): Processes; 1 runs in this process.
        shard_size (int): Images per shard (the unit of resuming).
        keep_parts (bool): Keep ``{out_file}.parts`` after merging.
        progress (bool): Show a progress bar.

    Returns:
        dict: ``images``, ``shards``, ``reused_shards`` (found on disk and
        kept), ``computed_images`` (run in this call) and ``boxes`` (total).

    Raises:
        FileNotFoundError: Image files that do not exist (checked first).
        ValueError: Repeated keys, bad settings, or an unreadable image
            (naming it; shards finished before it stay on disk).
    """
    if mode not in SS_MODES:
        raise ValueError(f'mode must be one of {SS_MODES}, got {mode!r}')
    if shard_size < 1 or workers < 1:
        raise ValueError('shard_size and workers must be at least 1')
    img_paths = list(img_paths)
    if not img_paths:
        raise ValueError('no images to process')
    keys = [proposal_key(p) for p in img_paths]
    if len(set(keys)) != len(keys):
        seen, twice = set(), []
        for k in keys:
            if k in seen:
                twice.append(k)
            seen.add(k)
        raise ValueError(f'images with the same key (parent folder + file '
                         f'name) cannot share a proposal file: {few(twice)}')
    absent = [p for p in img_paths if not osp.isfile(p)]
    if absent:
        raise FileNotFoundError(f'{len(absent)} of {len(img_paths)} images '
                                f'do not exist: {few(absent)}')

    parts = parts_dir(out_file)
    with _RunLock(parts):
        n_computed, reused, n_boxes = _run_locked(img_paths, keys, out_file,
                                                  parts, mode, max_side,
                                                  min_size, seed, workers,
                                                  shard_size, progress)
        if not keep_parts:
            shutil.rmtree(parts)
    n_shards = -(-len(img_paths) // shard_size)
    return dict(
        images=len(img_paths),
        shards=n_shards,
        reused_shards=reused,
        computed_images=n_computed,
        boxes=n_boxes)
