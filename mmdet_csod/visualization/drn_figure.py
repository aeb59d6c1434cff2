"""Figure 4 of the CSOD paper: what each part of a DRN makes of an image.

One row of panels per image, all in original image pixels:

1. the recognition head's top-scoring proposal for every class of the
   image's labels that it scores (for a novel class, what weakly supervised
   detection gives);
2. the SCM's box for every novel class of the image (the detection head's
   pseudo ground truth), or, for a DRN without an SCM, the recognition
   head's top box of every novel class (its pseudo ground truth then);
3. the detection head's predictions above a score threshold, drawn by
   mmdet's :class:`DetLocalVisualizer` (``add_datasample``), optionally
   next to the ground truth;
4. (with an SCM) the SCM's input heatmap of one novel class, colour-mapped
   over the image, with the SCM's box of that class in white.

:func:`drn_outputs` runs the model on one dataset item,
:func:`draw_drn_figure` draws the row. No window is opened.
"""
from typing import Optional, Sequence

import cv2
import mmcv
import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmdet.visualization.palette import get_palette
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData

TITLE_FONT = cv2.FONT_HERSHEY_SIMPLEX
GAP = 4  # white pixels between panels


@torch.no_grad()
def drn_outputs(model,
                data: dict,
                heatmap_class: Optional[int] = None) -> dict:
    """Run a DRN on one packed dataset item.

    Args:
        model (DRN): The detector, in eval mode.
        data (dict): A dataset item (``inputs``, ``data_samples`` with
            ``image_labels`` and, without an RPN, ``proposals``).
        heatmap_class (int, optional): Global label of the heatmap's class;
            by default the first novel class of the image's labels.

    Returns:
        dict: ``sample`` (the DetDataSample with ``pred_instances`` of the
        detection head, in original image pixels), ``rec`` (the recognition
        head's top box per present class it scores), ``pseudo`` (a box per
        present novel class: the SCM's, else the recognition head's),
        ``heatmap`` (a float array over the original image in [0, 1], or
        None), ``heatmap_label`` and ``heatmap_box`` (the SCM's box of that
        class), ``has_scm``. Instances hold ``bboxes``, ``labels`` (global)
        and ``scores``; ``pseudo`` also ``from_fallback``.
    """
    batch = model.data_preprocessor(pseudo_collate([data]), False)
    inputs, samples = batch['inputs'], batch['data_samples']
    meta = samples[0].metainfo
    stages = model.predict_stages(
        inputs, samples, rescale=True, with_heatmaps=True)[0]
    novel = set(model.novel_labels)
    pseudo = stages['pseudo']
    if model.pseudo_gt == 'none':
        # no pseudo boxes: show what the recognition head would give
        rec = stages['rec']
        pseudo = rec[torch.isin(rec.labels, rec.labels.new_tensor(
            sorted(novel)))]
        pseudo.from_fallback = torch.zeros(len(pseudo), dtype=torch.bool)
    heatmap = heatmap_box = None
    scm = stages['scm']
    if heatmap_class is None:
        present = [g for g in stages['rec'].labels.tolist() if g in novel]
        heatmap_class = present[0] if present else None
    if scm is not None and heatmap_class is not None:
        rows = torch.nonzero(scm.labels == heatmap_class).flatten()
        if len(rows):
            k = int(rows[0])
            modes = list(model.scm.heatmap_modes)
            channel = modes.index('max') if 'max' in modes else 0
            h, w = model.scm.heatmap_size(meta['img_shape'][:2])
            heatmap = _heatmap_to_image(
                stages['heatmaps'][k, channel, :h, :w].float().cpu().numpy(),
                stages['heatmap_stride'], meta['img_shape'][:2],
                meta['ori_shape'][:2])
            heatmap_box = scm.bboxes[k]
    return dict(
        sample=samples[0],
        rec=stages['rec'],
        pseudo=pseudo,
        heatmap=heatmap,
        heatmap_label=heatmap_class,
        heatmap_box=heatmap_box,
        has_scm=scm is not None)


def _heatmap_to_image(heatmap: np.ndarray, stride: float,
                      img_shape: Sequence[int],
                      ori_shape: Sequence[int]) -> np.ndarray:
    """A heatmap at 1 / stride of the network input -> [H, W] over the
    original image, scaled to [0, 1]."""
    h, w = heatmap.shape
    # heatmap pixel j covers input pixels [j * stride, (j + 1) * stride)
    full = cv2.resize(
        heatmap, (int(round(w * stride)), int(round(h * stride))),
        interpolation=cv2.INTER_LINEAR)
    full = full[:int(img_shape[0]), :int(img_shape[1])]
    full = cv2.resize(
        full, (int(ori_shape[1]), int(ori_shape[0])),
        interpolation=cv2.INTER_LINEAR)
    peak = float(full.max())
    return full / peak if peak > 0 else full


def _instances_panel(vis: DetLocalVisualizer, image: np.ndarray,
                     instances: InstanceData,
                     classes: Sequence[str]) -> np.ndarray:
    """Every instance of ``instances``, labelled, through the visualizer."""
    instances = instances.clone()
    names = []
    fallback = instances.get('from_fallback')
    for i, label in enumerate(instances.labels.tolist()):
        name = classes[label]
        if fallback is not None and bool(fallback[i]):
            name += ' (fallback)'
        names.append(name)
    instances.label_names = names
    if 'from_fallback' in instances:
        del instances.from_fallback
    vis.add_datasample(
        'panel',
        image,
        DetDataSample(pred_instances=instances),
        draw_gt=False,
        pred_score_thr=-float('inf'))
    return vis.get_image()


def _heatmap_panel(image: np.ndarray, heatmap: Optional[np.ndarray],
                   box: Optional[torch.Tensor]) -> np.ndarray:
    if heatmap is None:
        return (image * 0.35 + 90).astype(np.uint8)
    colour = cv2.applyColorMap((heatmap * 255).astype(np.uint8),
                               cv2.COLORMAP_JET)[..., ::-1]
    out = (image * 0.45 + colour * 0.55).astype(np.uint8)
    if box is not None:
        x1, y1, x2, y2 = [int(round(float(v))) for v in box]
        thickness = max(1, round(min(out.shape[:2]) / 150))
        out = np.ascontiguousarray(out)
        cv2.rectangle(out, (x1, y1), (x2, y2), (255, 255, 255), thickness)
    return out


def _titled(panel: np.ndarray, title: str, strip: int) -> np.ndarray:
    """The panel under a white strip holding its title (shrunk to fit)."""
    h, w = panel.shape[:2]
    head = np.full((strip, w, 3), 255, np.uint8)
    scale, thickness = strip / 30, 1 if strip < 40 else 2
    while scale > 0.2:
        (tw, th), _ = cv2.getTextSize(title, TITLE_FONT, scale, thickness)
        if tw <= w - 8:
            break
        scale *= 0.9
    cv2.putText(head, title, (4, (strip + th) // 2), TITLE_FONT, scale,
                (0, 0, 0), thickness, cv2.LINE_AA)
    return np.concatenate([head, panel], axis=0)


def draw_drn_figure(
        image: np.ndarray,
        outputs: dict,
        classes: Sequence[str],
        palette=None,
        score_thr: float = 0.3,
        draw_gt: bool = False,
        visualizer: Optional[DetLocalVisualizer] = None) -> np.ndarray:
    """One row of panels (see the module's doc) from :func:`drn_outputs`.

    Args:
        image (np.ndarray): The original image, RGB, [H, W, 3] uint8.
        outputs (dict): :func:`drn_outputs` of that image.
        classes (Sequence[str]): Class names by global label.
        palette: A dataset palette (list of RGB tuples or a name that
            :func:`get_palette` knows); None: mmdet's seeded random colours.
        score_thr (float): Detection head predictions drawn above it.
        draw_gt (bool): Panel 3 is mmdet's ground truth | prediction pair.
        visualizer (DetLocalVisualizer, optional): Reused when given.

    Returns:
        np.ndarray: The RGB row, 4 panels (3 without an SCM) of the image's
        width (panel 3 twice as wide with ``draw_gt``) with white gaps of
        ``GAP`` pixels, under title strips.
    """
    image = np.ascontiguousarray(image.clip(0, 255).astype(np.uint8))
    if visualizer is None:
        visualizer = DetLocalVisualizer(name='drn_figure')
    visualizer.dataset_meta = dict(
        classes=tuple(classes), palette=get_palette(palette, len(classes)))
    has_scm = outputs['has_scm']
    panels = [
        ('recognition head: top box per class',
         _instances_panel(visualizer, image, outputs['rec'], classes)),
        ('SCM: novel pseudo boxes'
         if has_scm else 'pseudo GT: rec. top box (no SCM)',
         _instances_panel(visualizer, image, outputs['pseudo'], classes)),
    ]
    visualizer.add_datasample(
        'detection',
        image,
        outputs['sample'],
        draw_gt=draw_gt,
        draw_pred=True,
        pred_score_thr=score_thr)
    panels.append((f'detection head (score > {score_thr:g})' +
                   (': GT | pred' if draw_gt else ''), visualizer.get_image()))
    if has_scm:
        label = outputs['heatmap_label']
        title = ('SCM heatmap: ' + classes[label]
                 if label is not None and outputs['heatmap'] is not None else
                 'SCM heatmap: no novel class')
        panels.append((title,
                       _heatmap_panel(image, outputs['heatmap'],
                                      outputs['heatmap_box'])))

    strip = max(20, int(round(image.shape[0] * 0.08)))
    row = []
    for title, panel in panels:
        if panel.shape[0] != image.shape[0]:  # never expected; be safe
            panel = mmcv.imrescale(panel, (panel.shape[1], image.shape[0]))
        if row:
            row.append(
                np.full((image.shape[0] + strip, GAP, 3), 255, np.uint8))
        row.append(_titled(panel, title, strip))
    return np.concatenate(row, axis=1)
