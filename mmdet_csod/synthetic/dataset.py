"""Writing the generated data set: images, COCO jsons and proposals.

Output layout (relied on by the configs and the dataset code)::

    DIR/annotations/train.json   COCO, every box of every class
    DIR/annotations/val.json
    DIR/train/000000.jpg ...     JPEG quality 95
    DIR/val/000000.jpg ...
    DIR/proposals/ss_train.npz   Selective Search, project proposal format
    DIR/proposals/ss_val.npz

The output depends only on the arguments (not on the number of workers):
image ``i`` of split ``s`` draws from ``np.random.default_rng([seed, s, i])``.
Boxes are ``[x, y, w, h]`` in the json and ``x1, y1, x2, y2`` (x2 = x + w,
exclusive) elsewhere, in pixels.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..datasets.converters._common import Progress, pool_context
from ..datasets.converters.selective_search import selective_search
from ..datasets.proposals import proposal_key, save_proposals
from .families import FAMILIES, get_family
from .objects import CLASSES

GENERATOR_VERSION = '1.0'

SPLITS = ('train', 'val')
JPEG_QUALITY = 95
SS_MODE = 'fast'
SS_SEED = 0  # seed of OpenCV's region ranking (C rand)
DEFAULT_SS_MAX_SIDE = 192


def _encode(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode('.jpg', img,
                           [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError('JPEG encoding failed')
    return buf.tobytes()


def _image_job(
        job: Tuple[str, int, int, int, Optional[int], bool, str]) -> Dict:
    """Render, write and run Selective Search on one image (a worker task).

    Selective Search runs on the decoded JPEG, i.e. on what readers of the
    data set see, with OpenCV's pseudo-random ranking seeded by ``SS_SEED``
    (the default of ``tools/dataset_converters/selective_search.py``, which
    therefore gives the same boxes for the same ``--max-side``).
    """
    (out_dir, split_index, image_index, seed, ss_max_side, cart_loads,
     family) = job
    split = SPLITS[split_index]
    render = FAMILIES[family].render_scene
    img, bboxes, labels = render(seed, split_index, image_index, cart_loads)
    data = _encode(img)
    file_name = f'{image_index:06d}.jpg'
    path = osp.join(out_dir, split, file_name)
    with open(path, 'wb') as f:
        f.write(data)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    proposals = selective_search(
        decoded, mode=SS_MODE, max_side=ss_max_side, seed=SS_SEED)
    return dict(
        index=image_index,
        file_name=file_name,
        path=path,
        height=img.shape[0],
        width=img.shape[1],
        bboxes=bboxes,
        labels=labels,
        proposals=proposals)


def _init_worker() -> None:
    cv2.setNumThreads(1)


def _coco_dict(results: Sequence[Dict], info: Dict,
               classes: Sequence[str] = CLASSES) -> Dict:
    images, annotations = [], []
    for r in results:
        image_id = r['index'] + 1
        images.append(
            dict(
                id=image_id,
                file_name=r['file_name'],
                height=int(r['height']),
                width=int(r['width'])))
        for box, label in zip(r['bboxes'], r['labels']):
            x1, y1, x2, y2 = (int(v) for v in box)
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=int(label) + 1,
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    area=(x2 - x1) * (y2 - y1),
                    iscrowd=0))
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(classes)]
    return dict(
        info=info,
        images=images,
        annotations=annotations,
        categories=categories)


def generate_split(out_dir: str,
                   split: str,
                   num_images: int,
                   seed: int = 0,
                   workers: Optional[int] = None,
                   ss_max_side: Optional[int] = DEFAULT_SS_MAX_SIDE,
                   args: Optional[Dict] = None,
                   progress: bool = True,
                   cart_loads: bool = False,
                   family: str = 'default') -> Dict:
    """Make one split: images, ``annotations/<split>.json`` and
    ``proposals/ss_<split>.npz`` under ``out_dir``.

    Args:
        out_dir (str): Data set root.
        split (str): 'train' or 'val' (picks the random stream).
        num_images (int): Images to make (>= 1).
        seed (int): Base seed (>= 0).
        workers (int, optional): Processes; ``None`` = ``os.cpu_count()``,
            1 = in this process. The output does not depend on it.
        ss_max_side (int, optional): Longer side Selective Search runs at;
            None = full size.
        args (dict, optional): Generation arguments recorded in the json's
            ``info`` (keep it free of paths and worker counts so that runs
            with equal arguments give byte-identical files).
        progress (bool): Print progress.
        cart_loads (bool): Carts may carry a bottle
            (:func:`~.scene.render_scene`; the default family only).
        family (str): Scene family, a key of
            :data:`~.families.FAMILIES`.

    Returns:
        dict: The COCO dict written to the json.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    if seed < 0:
        raise ValueError(f'seed must be >= 0, got {seed}')
    get_family(family)  # a clear error for an unknown one
    if cart_loads and family != 'default':
        raise ValueError(f'cart_loads is an option of the default family, '
                         f'not of {family!r}')
    split_index = SPLITS.index(split)
    os.makedirs(osp.join(out_dir, split), exist_ok=True)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    jobs = [(out_dir, split_index, i, seed, ss_max_side, bool(cart_loads),
             family) for i in range(num_images)]
    if workers is None:
        workers = os.cpu_count() or 1
    workers = max(1, min(int(workers), num_images))
    if progress:
        print(f'synthetic {split}: {num_images} images', flush=True)
    bar = Progress(num_images, progress)
    results: List[Dict] = []
    if workers == 1:
        for job in jobs:
            results.append(_image_job(job))
            bar.update()
    else:
        ctx = pool_context(__name__)
        chunk = max(1, min(16, num_images // (workers * 8)))
        with ctx.Pool(workers, initializer=_init_worker) as pool:
            for r in pool.imap(_image_job, jobs, chunksize=chunk):
                results.append(r)
                bar.update()
    bar.close()
    info = dict(
        description='mmdet-csod synthetic cross-supervised '
        'detection data set',
        # the name the generator had when version 1.0 was made, kept so
        # that equal arguments still give byte-identical files
        generator='mmdet_csod.datasets.converters.synthetic',
        version=GENERATOR_VERSION,
        seed=int(seed),
        split=split,
        num_images=int(num_images),
        ss_mode=SS_MODE,
        ss_max_side=ss_max_side,
        ss_seed=SS_SEED,
        jpeg_quality=JPEG_QUALITY,
        args=dict(args or {}))
    coco = _coco_dict(results, info, FAMILIES[family].classes)
    ann_path = osp.join(out_dir, 'annotations', f'{split}.json')
    tmp = ann_path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(coco, f, separators=(',', ':'))
    os.replace(tmp, ann_path)
    save_proposals(
        osp.join(out_dir, 'proposals', f'ss_{split}.npz'),
        {proposal_key(r['path']): (r['proposals'], None)
         for r in results})
    return coco


def generate_dataset(out_dir: str,
                     num_train: int = 2000,
                     num_val: int = 500,
                     seed: int = 0,
                     workers: Optional[int] = None,
                     ss_max_side: Optional[int] = DEFAULT_SS_MAX_SIDE,
                     progress: bool = True,
                     cart_loads: bool = False,
                     family: str = 'default') -> Dict[str, Dict]:
    """Make the whole data set (train and val) under ``out_dir``;
    ``cart_loads`` and ``family`` as :func:`generate_split` (recorded in the
    json's ``info.args`` only when not the default, so version-1.0 arguments
    give version-1.0 files).

    Returns:
        dict: split name -> its COCO dict.
    """
    args = dict(
        num_train=int(num_train),
        num_val=int(num_val),
        seed=int(seed),
        ss_max_side=ss_max_side)
    if cart_loads:
        args['cart_loads'] = True
    if family != 'default':
        args['family'] = family
    return {
        split:
        generate_split(
            out_dir,
            split,
            n,
            seed=seed,
            workers=workers,
            ss_max_side=ss_max_side,
            args=args,
            progress=progress,
            cart_loads=cart_loads,
            family=family)
        for split, n in (('train', num_train), ('val', num_val))
    }
