"""The figures of :mod:`~mmdet_csod.evaluation.stage_diagnostics`: what
each stage of a DRN's chain makes of some images, measured against their
full ground truth, and the figures written out (log keys, a table, a line).

Pure computation on boxes already made: no model, no data loading here.
"""
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor

STAGES = ('mil', 'rec', 'scm', 'pseudo', 'det')
GROUPS = ('base', 'novel')
CONFIGS = ('all', 'touching', 'free')
# where a missed top box landed (percent of pairs; with corloc they and the
# pairs without a box make 100): see StageDiagnostics
LANDINGS = ('part', 'too_large', 'on_other', 'elsewhere')
_COMMON = ('corloc', 'mean_iou', 'count', 'area_ratio') + LANDINGS
FIGURES = dict(
    mil=_COMMON,
    rec=_COMMON,
    scm=_COMMON + ('fallback', ),
    pseudo=_COMMON + ('fallback', 'boxes_per_pair'),
    det=_COMMON + ('ap50', ))


def _np(x, dtype) -> np.ndarray:
    if isinstance(x, torch.Tensor) or hasattr(x, 'tensor'):
        x = get_box_tensor(x) if not isinstance(x, torch.Tensor) else x
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _area_ratio(boxes: np.ndarray, gt_boxes: np.ndarray,
                same: np.ndarray) -> np.ndarray:
    """Area of each box over its object's: the box of its class (``same``
    [N, G] bool, at least one per row) it intersects most (the first of
    them when it intersects none). [N, 4], [G, 4] -> [N]."""
    if not len(boxes):
        return np.zeros(0)
    # intersection over the box's own area: the same order per row
    iof = bbox_overlaps(torch.from_numpy(boxes), torch.from_numpy(gt_boxes),
                        mode='iof').numpy().reshape(len(boxes), -1)
    obj = gt_boxes[np.where(same, iof, -1.).argmax(axis=1)]
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return area / np.prod(obj[:, 2:] - obj[:, :2], axis=1)


def _landing(boxes: np.ndarray, gt_boxes: np.ndarray, same: np.ndarray,
             ious: np.ndarray, hit: np.ndarray,
             iof_thr: float = 0.8) -> np.ndarray:
    """Where each top box landed, as an index into :data:`LANDINGS`
    (-1: a hit). [N, 4] boxes, [G, 4] objects, ``same`` [N, G] bool (the
    box's class), ``ious`` [N, G] (the boxes' with the objects), ``hit``
    [N] bool -> [N] int.

    ``on_other``: its IoU with an object of another class beats its IoU
    with every object of its own (it boxes, or mostly covers, the neighbour
    or the carrier); else ``part``: at least ``iof_thr`` of the box inside
    an object of its class; else ``too_large``: an object of its class at
    least ``iof_thr`` inside the box; else ``elsewhere``."""
    out = np.full(len(boxes), -1)
    if not len(boxes):
        return out
    b, g = torch.from_numpy(boxes), torch.from_numpy(gt_boxes)
    in_obj = bbox_overlaps(b, g, mode='iof').numpy().reshape(len(boxes), -1)
    obj_in = bbox_overlaps(g, b, mode='iof').numpy().reshape(
        -1, len(boxes)).T
    own = np.where(same, ious, 0.).max(axis=1, initial=0.)
    other = np.where(~same, ious, 0.).max(axis=1, initial=0.)
    part = np.where(same, in_obj, 0.).max(axis=1, initial=0.) >= iof_thr
    large = np.where(same, obj_in, 0.).max(axis=1, initial=0.) >= iof_thr
    kind = np.select([other > own, part, large], [2, 0, 1], default=3)
    return np.where(hit, -1, kind)


def touching_boxes(bboxes, gap: float = 1.0) -> np.ndarray:
    """Whether each box intersects or touches (gap <= ``gap`` px along
    both axes) any other box of the list. [N, 4] xyxy -> bool [N]."""
    b = _np(bboxes, np.float64).reshape(-1, 4)
    gap_x = np.maximum(b[:, None, 0], b[None, :, 0]) - np.minimum(
        b[:, None, 2], b[None, :, 2])
    gap_y = np.maximum(b[:, None, 1], b[None, :, 1]) - np.minimum(
        b[:, None, 3], b[None, :, 3])
    near = (gap_x <= gap) & (gap_y <= gap)
    np.fill_diagonal(near, False)
    return near.any(axis=1)


class StageDiagnostics:
    """Per-stage localization figures over (image, present class) pairs.

    A pair is an image and a class with at least one (non-ignored)
    ground-truth box in it. Its *top box* in a stage is that stage's
    highest-scoring box of the class (the first on ties); it is a hit when
    its IoU (mmdet's ``bbox_overlaps``, no +1) with a ground-truth box of
    the class is >= ``iou_thr``. A pair is ``touching`` when any box of its
    class in the image intersects or touches (gap <= ``touch_gap`` px)
    the box of another object (any other ground-truth box, ignored ones
    and same-class ones included), else ``free``.

    Which pairs a stage is measured on: ``stage_classes[stage]`` (labels
    the stage is meant to box, e.g. the recognition head's classes); a pair
    of such a class without a box of the stage is a miss with IoU 0. A
    stage left out of ``stage_classes`` is measured on the pairs it boxed
    (``det``: every pair). Stages that are None in the outputs (``scm``
    without an SCM) are left out of the results.

    Figures (per stage, group in base/novel, config in all/touching/free):
    ``corloc`` (percent of pairs hit), ``mean_iou`` (percent, mean over
    pairs of the top box's best IoU with the class's boxes), ``count``
    (pairs), ``area_ratio`` (median over the pairs with a top box of its
    area over its object's, the box of the class it intersects most: above
    1 the stage boxes more than the object, below 1 a part of it; None
    when no pair of the set has a box); where a missed top box landed
    (percent of pairs; ``corloc``, these four and the pairs without a box
    make 100): ``on_other`` (its IoU with an object of another class beats
    its IoU with its own: the neighbour, the carrier), else ``part`` (80 %
    of it inside an object of its class), else ``too_large`` (an object of
    its class 80 % inside it), else ``elsewhere``; ``scm``/``pseudo`` also
    ``fallback`` (percent of pairs whose top box is ``from_fallback``);
    ``pseudo`` also ``boxes_per_pair`` (mean boxes of the class per pair);
    ``det`` also ``ap50``: VOC-style AP at IoU ``iou_thr`` (mmdet's
    ``eval_map``, area under the PR curve, no +1) of the measured images,
    the mean over the group's classes with ground truth; for touching/free
    only that configuration's boxes are ground truth and the other one's
    are passed as ignored, so a detection on them is neither TP nor FP (a
    detection of a class absent from an image is a FP in both). Figures of
    an empty set are None.

    Args:
        base_labels, novel_labels (Sequence[int]): Global labels.
        stage_classes (dict, optional): stage -> labels, see above.
        iou_thr (float): Defaults to 0.5.
        touch_gap (float): Pixels. Defaults to 1.
        eval_mode (str): ``eval_map``'s, 'area' or '11points'.
    """

    def __init__(self,
                 base_labels: Sequence[int],
                 novel_labels: Sequence[int],
                 stage_classes: Optional[Dict[str, Iterable[int]]] = None,
                 iou_thr: float = 0.5,
                 touch_gap: float = 1.0,
                 eval_mode: str = 'area') -> None:
        self.base_labels = [int(c) for c in base_labels]
        self.novel_labels = [int(c) for c in novel_labels]
        if set(self.base_labels) & set(self.novel_labels):
            raise ValueError('a label is both base and novel')
        self.num_classes = max(self.base_labels + self.novel_labels) + 1
        self.stage_classes = {
            k: None if v is None else {int(c) for c in v}
            for k, v in (stage_classes or {}).items()
        }
        self.iou_thr = float(iou_thr)
        self.touch_gap = float(touch_gap)
        self.eval_mode = eval_mode
        self.reset()

    def reset(self) -> None:
        self._pairs = {s: [] for s in STAGES}  # arrays [P, 8] per image
        self._seen = set()
        self._det_results, self._annotations = [], {c: [] for c in CONFIGS}
        self.num_images = 0

    # ------------------------------------------------------------- feeding
    def add(self, stages: dict, gt: dict) -> None:
        """One image: ``stages`` as ``DRN.predict_stages`` gives it (boxes
        in the ground truth's coordinates), ``gt`` as
        :func:`~mmdet_csod.evaluation.stage_diagnostics.load_full_gt`
        (``ignore`` optional)."""
        gt_boxes = _np(gt['bboxes'], np.float32).reshape(-1, 4)
        gt_labels = _np(gt['labels'], np.int64).reshape(-1)
        ignore = _np(gt.get('ignore', np.zeros(len(gt_labels), bool)),
                     bool).reshape(-1)
        known = np.isin(gt_labels, self.base_labels + self.novel_labels)
        valid = known & ~ignore
        touch = touching_boxes(gt_boxes, self.touch_gap)
        present = np.unique(gt_labels[valid])
        # pair -> touching: any box of the class in the image touches
        pair_touch = np.isin(present, gt_labels[valid & touch])
        is_novel = np.isin(present, self.novel_labels)
        self.num_images += 1
        for stage in STAGES:
            out = stages.get(stage)
            if out is None:
                continue
            self._seen.add(stage)
            self._pairs[stage].append(
                self._measure(stage, out, present, is_novel, pair_touch,
                              gt_boxes[valid], gt_labels[valid]))
        self._add_det(stages.get('det'), gt_boxes, gt_labels, valid, ignore,
                      known, present, pair_touch)

    def add_batch(self, outputs: List[dict], gts: List[dict]) -> None:
        for out, gt in zip(outputs, gts):
            self.add(out, gt)

    def _measure(self, stage, out, present, is_novel, pair_touch, gt_boxes,
                 gt_labels) -> np.ndarray:
        """[P, 8]: is_novel, touching, iou, fallback, boxes of the class,
        label, area ratio (NaN without a box), landing (index into
        LANDINGS, -1 a hit, -2 no box) of the pairs measured (a hit is iou
        >= thr)."""
        boxes = _np(out.bboxes, np.float32).reshape(-1, 4)
        labels = _np(out.labels, np.int64).reshape(-1)
        scores = _np(out.scores, np.float64).reshape(-1) if 'scores' in out \
            else np.zeros(len(labels))
        fallback = _np(out.from_fallback, bool).reshape(-1) \
            if 'from_fallback' in out else np.zeros(len(labels), bool)
        wanted = self.stage_classes.get(stage)
        if wanted is None and stage == 'det':
            keep = np.ones(len(present), bool)
        elif wanted is None:
            keep = np.isin(present, labels)
        else:
            keep = np.isin(present, sorted(wanted))
        present, is_novel, pair_touch = (present[keep], is_novel[keep],
                                         pair_touch[keep])
        # top box of every class: the first of its label in score order
        order = np.argsort(-scores, kind='stable')
        top_labels, first = np.unique(labels[order], return_index=True)
        top = order[first]
        idx = np.full(len(present), -1)
        if len(top_labels):
            pos = np.searchsorted(top_labels, present).clip(
                max=len(top_labels) - 1)
            idx = np.where(top_labels[pos] == present, pos, -1)
        has = idx >= 0
        chosen = top[idx[has]]
        ious = bbox_overlaps(
            torch.from_numpy(boxes[chosen]),
            torch.from_numpy(gt_boxes)).numpy().reshape(
                len(chosen), len(gt_boxes))
        same = present[has][:, None] == gt_labels[None, :]
        iou = np.zeros(len(present))
        iou[has] = np.where(same, ious, 0.).max(axis=1, initial=0.)
        fb = np.zeros(len(present), bool)
        fb[has] = fallback[chosen]
        nbox = (labels[None, :] == present[:, None]).sum(axis=1)
        ratio = np.full(len(present), np.nan)
        ratio[has] = _area_ratio(boxes[chosen], gt_boxes, same)
        land = np.full(len(present), -2)
        land[has] = _landing(boxes[chosen], gt_boxes, same, ious,
                             iou[has] >= self.iou_thr)
        return np.stack(
            [is_novel, pair_touch, iou, fb, nbox, present, ratio, land],
            axis=1).astype(np.float64).reshape(-1, 8)

    def _add_det(self, det, gt_boxes, gt_labels, valid, ignore, known,
                 present, pair_touch) -> None:
        if det is None:
            return
        boxes = _np(det.bboxes, np.float32).reshape(-1, 4)
        labels = _np(det.labels, np.int64).reshape(-1)
        scores = _np(det.scores, np.float32).reshape(-1)
        dets = np.concatenate([boxes, scores[:, None]], axis=1)
        self._det_results.append(
            [dets[labels == c] for c in range(self.num_classes)])
        box_touch = np.isin(gt_labels, present[pair_touch])
        for config in CONFIGS:
            if config == 'all':
                gt_sel = valid
            else:
                gt_sel = valid & (box_touch == (config == 'touching'))
            ign = known & ~gt_sel  # ignored boxes + the other configuration
            self._annotations[config].append(
                dict(bboxes=gt_boxes[gt_sel], labels=gt_labels[gt_sel],
                     bboxes_ignore=gt_boxes[ign],
                     labels_ignore=gt_labels[ign]))

    # ------------------------------------------------------------ results
    def compute(self) -> Dict[str, Dict[str, Dict[str, dict]]]:
        """stage -> group -> config -> figure -> value (None when empty)."""
        results = {}
        for stage in STAGES:
            if stage not in self._seen:
                continue
            rows = np.concatenate(self._pairs[stage] or [np.zeros((0, 8))])
            results[stage] = {}
            for gi, group in enumerate(GROUPS):
                results[stage][group] = {}
                for config in CONFIGS:
                    sel = rows[:, 0] == gi
                    if config != 'all':
                        sel &= rows[:, 1] == (config == 'touching')
                    results[stage][group][config] = self._figures(
                        stage, rows[sel])
        if 'det' in results:
            for config in CONFIGS:
                aps = self._ap(config)
                for group, labels in (('base', self.base_labels),
                                      ('novel', self.novel_labels)):
                    vals = [aps[c] for c in labels if c in aps]
                    results['det'][group][config]['ap50'] = float(
                        100 * np.mean(vals)) if vals else None
        return results

    def compute_per_class(self) -> Dict[str, Dict[int, dict]]:
        """stage -> label -> figures (``corloc``, ``mean_iou``, ``count``
        and the stage's others) over that class's pairs, every
        configuration; ``det`` also ``ap50`` of the class. Only classes
        with pairs in the stage appear."""
        results = {}
        for stage in STAGES:
            if stage not in self._seen:
                continue
            rows = np.concatenate(self._pairs[stage] or [np.zeros((0, 8))])
            labels = np.unique(rows[:, 5]).astype(int)
            results[stage] = {
                int(c): self._figures(stage, rows[rows[:, 5] == c])
                for c in labels
            }
        if 'det' in results:
            for c, ap in self._ap('all').items():
                results['det'].setdefault(int(c), {})['ap50'] = 100 * ap
        return results

    def _figures(self, stage, rows) -> dict:
        n = len(rows)

        def pct(x):
            return float(100 * x.mean()) if n else None

        out = dict(
            corloc=pct(rows[:, 2] >= self.iou_thr),
            mean_iou=pct(rows[:, 2]),
            count=int(n))
        ratios = rows[:, 6][np.isfinite(rows[:, 6])]
        out['area_ratio'] = float(np.median(ratios)) if len(ratios) else None
        for k, name in enumerate(LANDINGS):
            out[name] = pct(rows[:, 7] == k)
        if stage in ('scm', 'pseudo'):
            out['fallback'] = pct(rows[:, 3])
        if stage == 'pseudo':
            out['boxes_per_pair'] = float(rows[:, 4].mean()) if n else None
        return out

    def _ap(self, config) -> Dict[int, float]:
        """Class -> AP of the classes with ground truth in ``config``."""
        if not self._det_results:
            return {}
        from mmdet.evaluation import eval_map
        _, per_class = eval_map(
            self._det_results,
            self._annotations[config],
            iou_thr=self.iou_thr,
            logger='silent',
            nproc=1,
            eval_mode=self.eval_mode,
            use_legacy_coordinate=False)
        return {
            c: float(r['ap'])
            for c, r in enumerate(per_class) if r['num_gts'] > 0
        }


# ----------------------------------------------------------------- output
def flatten_results(results: dict, prefix: str = 'diag') -> Dict[str, float]:
    """``{prefix}/{stage}_{group}_{config}_{figure}`` -> value, None left
    out."""
    return {
        f'{prefix}/{stage}_{group}_{config}_{fig}': value
        for stage, groups in results.items()
        for group, configs in groups.items()
        for config, figs in configs.items() for fig, value in figs.items()
        if value is not None
    }


def _cell(figure: str, value) -> str:
    if value is None:
        return '-'
    if figure == 'count':
        return str(value)
    return f'{value:.2f}' if figure in ('boxes_per_pair', 'area_ratio') \
        else f'{value:.1f}'


def format_table(results: dict) -> str:
    """A table, one row per stage x group x config."""
    from terminaltables import AsciiTable
    figs = ['count', 'corloc', 'mean_iou', 'area_ratio', *LANDINGS,
            'fallback', 'boxes_per_pair', 'ap50']
    rows = [['stage', 'group', 'config', *figs]]
    for stage, groups in results.items():
        for group, configs in groups.items():
            for config, values in configs.items():
                cells = [_cell(f, values.get(f)) for f in figs]
                rows.append([stage, group, config, *cells])
    return AsciiTable(rows).table


def summary_line(results: dict) -> str:
    """One line: base/novel CorLoc of every stage (all configurations),
    the SCM's and pseudo boxes' fallback rate, the detection AP50."""

    def fmt(v):
        return '-' if v is None else f'{v:.1f}'

    parts = []
    for stage, groups in results.items():
        figs = ['corloc'] + [f for f in ('fallback', 'ap50')
                             if f in FIGURES[stage]]
        parts.append(f'{stage} ' + ' '.join(
            f"{f} {fmt(groups['base']['all'].get(f))}/"
            f"{fmt(groups['novel']['all'].get(f))}" for f in figs))
    return 'base/novel: ' + ' | '.join(parts)
