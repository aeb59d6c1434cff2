"""Helpers shared by the proposal converters: the COCO json side."""
import json
import os.path as osp
import sys
import warnings
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ..proposals import proposal_key, save_proposals


def few(items: Iterable, n: int = 5) -> str:
    """The first ``n`` items as a short readable list (with a count)."""
    items = list(items)
    shown = ', '.join(repr(x) for x in items[:n])
    more = f' ... ({len(items)} in all)' if len(items) > n else ''
    return f'[{shown}{more}]'


def load_coco_images(ann_file: str) -> List[Dict]:
    """The ``images`` list of a COCO-style json; errors name the file."""
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')
    try:
        with open(ann_file) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f'{ann_file}: not a json file: {e}') from e
    images = data.get('images') if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise ValueError(f'{ann_file}: no "images" list (not a COCO-style '
                         'annotation file)')
    for k, img in enumerate(images):
        if not isinstance(img, dict) or 'file_name' not in img \
                or 'id' not in img:
            raise ValueError(f'{ann_file}: image entry {k} lacks "id" or '
                             '"file_name"')
    return images


def image_stem(file_name: str) -> str:
    """``'VOC2007/JPEGImages/000005.jpg'`` -> ``'000005'``."""
    return osp.splitext(osp.basename(file_name))[0]


def image_keys(images: List[Dict], img_prefix: str,
               ann_file: str) -> List[str]:
    """Proposal keys of the json's images, as the dataset computes them.

    The dataset's image path is ``data_root/img_prefix/file_name`` and its key
    :func:`proposal_key` of that path (parent folder + file name), so
    ``img_prefix`` only matters when ``file_name`` has no folder.
    """
    keys = [
        proposal_key(osp.join(img_prefix, img['file_name'])) for img in images
    ]
    seen: Dict[str, str] = {}
    for key, img in zip(keys, images):
        if key in seen:
            raise ValueError(
                f'{ann_file}: images {seen[key]!r} and {img["file_name"]!r} '
                f'get the same proposal key {key!r} (parent folder + file '
                'name); a proposal file cannot tell them apart')
        seen[key] = img['file_name']
    return keys


def write_matched(
    out_file: Optional[str],
    images: List[Dict],
    keys: List[str],
    matched: Mapping[int, Tuple[np.ndarray, Optional[np.ndarray]]],
    ann_file: str,
    source: str,
    allow_missing: bool = False
) -> Dict[str, Tuple[np.ndarray, Optional[np.ndarray]]]:
    """Order proposals like the json's images and save them.

    Args:
        out_file (str, optional): Output ``.npz`` (project format); not
            written when None.
        images (list[dict]): The json's images.
        keys (list[str]): Their proposal keys (:func:`image_keys`).
        matched (Mapping[int, tuple]): Image position in ``images`` ->
            ``(bboxes [K, 4] xyxy 0-based exclusive, scores [K] or None)``.
        ann_file (str): For messages.
        source (str): The proposal source file, for messages.
        allow_missing (bool): Whether json images without proposals are
            written with zero boxes (one counted warning; such images are
            then skipped in training) instead of being an error.

    Returns:
        dict: key -> (bboxes, scores), in json order.
    """
    missing = [
        img['file_name'] for i, img in enumerate(images) if i not in matched
    ]
    if missing:
        msg = (f'{len(missing)} of {len(images)} images of {ann_file} have no '
               f'proposals in {source}: {few(missing)}')
        if not allow_missing:
            raise ValueError(
                msg + '. Is the proposal file made for another '
                'image set? (--allow-missing writes them with zero '
                'boxes)')
        warnings.warn(msg + '; written with zero boxes', stacklevel=2)
    empty = (np.zeros((0, 4), np.float32), np.zeros((0, ), np.float32))
    result = {key: matched.get(i, empty) for i, key in enumerate(keys)}
    if out_file is not None:
        save_proposals(out_file, result)
    return result


def pool_context(preload: str):
    """A multiprocessing context that does not fork the calling process.

    Forking a process whose OpenCV thread pool has already run leaves the
    children waiting on threads that do not exist (a hang), so workers come
    from a fork server that has only imported ``preload``, or are spawned.
    """
    import multiprocessing
    if 'forkserver' in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context('forkserver')
        ctx.set_forkserver_preload([preload])
        return ctx
    return multiprocessing.get_context('spawn')


class Progress:
    """mmengine's ``ProgressBar`` over ``total`` items while ``enabled`` (a
    no-op otherwise, or for no items); :meth:`close` ends the bar's line."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        from mmengine.utils import ProgressBar
        self.bar = ProgressBar(total) if enabled and total > 0 else None

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            sys.stdout.write('\n')
            sys.stdout.flush()
