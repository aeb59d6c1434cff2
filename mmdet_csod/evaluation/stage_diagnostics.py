"""What each stage of a DRN's chain makes of the training images.

For the top box of the recognition head's MIL stream (``mil``, the seed of
its first refinement branch), the recognition head's top box (``rec``),
the SCM's box (``scm``), the pseudo boxes that reach the detection head
(``pseudo``) and the detection head's predictions (``det``), measured
against the images' *full* ground truth (novel boxes included, read from
the COCO json for measuring only), for base and novel classes, and for
objects that touch or overlap another object (``touching``) vs
free-standing ones (``free``).

This module reads the ground truth, builds the data and runs the model;
the figures themselves are computed and written out by
:mod:`~mmdet_csod.evaluation.stage_figures`, whose names are importable
from here too. Used by ``tools/analysis_tools/diagnose_drn.py`` and
:class:`~mmdet_csod.engine.hooks.DRNDiagnosticsHook`; no Runner needed.
The model is only duck-typed (``predict_stages``, ``rec_label_map``...):
nothing of :mod:`mmdet_csod.models` is imported.
"""
import contextlib
import copy
import io
import random
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch

from .stage_figures import (CONFIGS, FIGURES, GROUPS, STAGES,
                            StageDiagnostics, flatten_results, format_table,
                            summary_line, touching_boxes)

__all__ = [
    'STAGES', 'GROUPS', 'CONFIGS', 'FIGURES', 'StageDiagnostics',
    'touching_boxes', 'flatten_results', 'format_table', 'summary_line',
    'load_full_gt', 'stage_classes_of', 'diagnostics_dataset_cfg',
    'build_diagnostics_loader', 'run_stage_diagnostics'
]


def load_full_gt(ann_file: str,
                 classes: Sequence[str],
                 img_ids: Optional[Iterable[int]] = None) -> Dict[int, dict]:
    """Every box of every configured class, per image, from a COCO json.

    For measuring only: nothing read here may go to training.

    Args:
        ann_file (str): The COCO json (a local path or one mmengine's
            fileio reads).
        classes (Sequence[str]): Label order (``metainfo['classes']``);
            categories are matched by name.
        img_ids (Iterable[int], optional): Keep only these images.

    Returns:
        dict: image id -> dict(bboxes float32 [N, 4] xyxy in image pixels,
        labels int64 [N], ignore bool [N] (``iscrowd``/``ignore``)). Boxes
        narrower or lower than 1 px or outside the image are left out, as
        the dataset leaves them out.
    """
    from mmengine.fileio import get_local_path
    from pycocotools.coco import COCO
    with get_local_path(ann_file) as path, \
            contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(path)
    name_to_label = {c: i for i, c in enumerate(classes)}
    cat_to_label = {
        c['id']: name_to_label[c['name']]
        for c in coco.loadCats(coco.getCatIds()) if c['name'] in name_to_label
    }
    ids = coco.getImgIds() if img_ids is None else list(img_ids)
    out = {}
    for img_id in ids:
        info = coco.imgs[img_id]
        rows = []
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[img_id])):
            if ann['category_id'] not in cat_to_label:
                continue
            x, y, w, h = ann['bbox']
            if not np.isfinite([x, y, w, h]).all() or w < 1 or h < 1:
                continue
            if (min(x + w, info['width']) <= max(x, 0)
                    or min(y + h, info['height']) <= max(y, 0)):
                continue
            rows.append((x, y, x + w, y + h, cat_to_label[ann['category_id']],
                         bool(ann.get('iscrowd', 0) or ann.get('ignore', 0))))
        arr = np.array([r[:4] for r in rows], np.float32).reshape(-1, 4)
        out[img_id] = dict(
            bboxes=arr,
            labels=np.array([r[4] for r in rows], np.int64),
            ignore=np.array([r[5] for r in rows], bool))
    return out


def stage_classes_of(model) -> Dict[str, List[int]]:
    """The classes each stage of a DRN boxes: the recognition head's (and
    its MIL stream's and the SCM's), the novel ones for the pseudo boxes
    (none without)."""
    rec = list(model.rec_label_map)
    pseudo = list(model.novel_labels) if model.pseudo_gt != 'none' else []
    return dict(mil=rec, rec=rec, scm=rec, pseudo=pseudo)


def _unwrap_dataset_cfg(ds_cfg):
    while 'dataset' in ds_cfg and 'ann_file' not in ds_cfg:
        ds_cfg = ds_cfg['dataset']  # RepeatDataset and the like
    return ds_cfg


def diagnostics_dataset_cfg(cfg, split: str = 'train',
                            num_images: Optional[int] = None):
    """The test dataloader's dataset (test pipeline, test mode) pointed at
    the split's data: for 'train', the ``data_root``, ``ann_file``,
    ``data_prefix`` and ``proposal_file`` of ``train_dataloader.dataset``;
    ``num_images``: the first images only."""
    if split not in ('train', 'val'):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if not loader:
        raise ValueError('the config has no test_dataloader (nor '
                         'val_dataloader): its pipeline is needed')
    ds = copy.deepcopy(_unwrap_dataset_cfg(loader['dataset']))
    if split == 'train':
        src = _unwrap_dataset_cfg(cfg['train_dataloader']['dataset'])
        if 'ann_file' not in src:
            raise ValueError('train_dataloader.dataset has no ann_file (a '
                             'ConcatDataset?): give the data explicitly')
        for key in ('data_root', 'ann_file', 'data_prefix', 'proposal_file'):
            if key in src:
                ds[key] = copy.deepcopy(src[key])
            elif key == 'proposal_file':
                ds.pop(key, None)
    ds['test_mode'] = True
    ds.pop('filter_cfg', None)
    ds.pop('indices', None)
    if num_images is not None:
        ds['indices'] = int(num_images)
    return ds


def build_diagnostics_loader(dataset_cfg, batch_size: int = 1,
                             num_workers: int = 0):
    """(dataloader in file order, full ground truth of its images)."""
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    dataset = DATASETS.build(dataset_cfg)
    ids = [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))]
    gt = load_full_gt(dataset.ann_file, dataset.metainfo['classes'], ids)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=pseudo_collate)
    return loader, gt


def run_stage_diagnostics(model, dataloader, gt: Dict[int, dict],
                          **kwargs) -> StageDiagnostics:
    """Feed every batch's ``predict_stages`` to a new
    :class:`StageDiagnostics` (kwargs: its arguments besides the labels).
    The model is put in eval mode and given back in its mode; the global
    random states (python, numpy, torch) are restored, so that training
    goes on as without it."""
    if not hasattr(model, 'predict_stages'):
        raise TypeError(f'{type(model).__name__} is not a DRN (no '
                        'predict_stages)')
    kwargs.setdefault('stage_classes', stage_classes_of(model))
    diag = StageDiagnostics(model.base_labels, model.novel_labels, **kwargs)
    states = (random.getstate(), np.random.get_state(),
              torch.random.get_rng_state(),
              torch.cuda.get_rng_state_all()
              if torch.cuda.is_initialized() else None)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for data in dataloader:
                batch = model.data_preprocessor(data, False)
                samples = batch['data_samples']
                outs = model.predict_stages(
                    batch['inputs'], samples, rescale=True)
                for out, sample in zip(outs, samples):
                    img_id = sample.metainfo.get('img_id')
                    if img_id not in gt:
                        raise KeyError(f'image id {img_id!r} of '
                                       f"{sample.metainfo.get('img_path')} "
                                       'has no ground truth (img_id in the '
                                       "test pipeline's meta_keys?)")
                    diag.add(out, gt[img_id])
    finally:
        model.train(was_training)
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])
        if states[3] is not None:
            torch.cuda.set_rng_state_all(states[3])
    return diag
