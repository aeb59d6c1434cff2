"""What a DRN derives from a training batch to supervise one head with
another: the SCM's base-class queries, the recognition head's box seeds,
the proposals the detection head must not take as background, and the
novel classes' pseudo boxes."""
from typing import List, Optional, Sequence

import torch
from mmdet.structures import SampleList
from mmdet.structures.bbox import (BaseBoxes, bbox2roi, bbox_overlaps,
                                   get_box_tensor)
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor


class DRNTargetsMixin:
    """Training-time links between the heads of :class:`DRN`; every input
    comes in as an argument, every result goes out as a return value."""

    def base_queries(self, batch_data_samples: SampleList) -> tuple:
        """SCM training queries: every base class with boxes in an image.

        Returns:
            tuple: queries [Q, 2] (image index, rec column) and the list of
            the Q ground-truth box sets [K_q, 4].
        """
        rec_col = {g: i for i, g in enumerate(self.rec_label_map)}
        queries, targets = [], []
        for i, s in enumerate(batch_data_samples):
            boxes = get_box_tensor(s.gt_instances.bboxes)
            labels = s.gt_instances.labels
            for label in labels.unique().tolist():
                queries.append((i, rec_col[label]))
                targets.append(boxes[labels == label])
        device = self.data_preprocessor.device
        return torch.tensor(queries, dtype=torch.long,
                            device=device).reshape(-1, 2), targets

    def _check_no_novel_boxes(self, batch_data_samples: SampleList) -> None:
        novel = torch.tensor(self.novel_labels, dtype=torch.long)
        for s in batch_data_samples:
            for field in ('gt_instances', 'ignored_instances'):
                inst = s.get(field)
                if inst is None or 'labels' not in inst:
                    continue
                labels = inst.labels.cpu()
                if torch.isin(labels, novel).any():
                    raise ValueError(
                        f'{s.metainfo.get("img_path")}: {field} holds a '
                        'novel-class box; cross-supervised training reads '
                        "novel classes as image labels only (dataset "
                        "supervision='cross')")

    def rec_columns(self) -> Tensor:
        """[C] the recognition column of each global label, -1 for the
        classes the recognition head does not score."""
        col = torch.full((self.num_classes, ), -1, dtype=torch.long)
        col[self.rec_label_map] = torch.arange(len(self.rec_label_map))
        return col

    def rec_gt_instances(self,
                         batch_data_samples: SampleList) -> InstanceList:
        """Per image the base boxes, ``bboxes`` [G_i, 4] and ``labels``
        [G_i] as columns of the recognition head (boxes of classes it does
        not score are left out)."""
        col = self.rec_columns()
        out = []
        for s in batch_data_samples:
            labels = s.gt_instances.labels
            cols = col.to(labels.device)[labels]
            keep = cols >= 0
            out.append(InstanceData(
                bboxes=get_box_tensor(s.gt_instances.bboxes)[keep],
                labels=cols[keep]))
        return out

    def rec_seed_instances(
            self,
            pseudo: List[InstanceData],
            seeds: Optional[InstanceList] = None) -> InstanceList:
        """Per image the pseudo boxes as seeds of the recognition head's
        refinement: ``bboxes`` [K_i, 4] and ``labels`` [K_i] as recognition
        columns, after the image's ``seeds`` (e.g. the base boxes of
        :meth:`rec_gt_instances`) when given."""
        col = self.rec_columns()
        out = []
        for i, p in enumerate(pseudo):
            cols = col.to(p.labels.device)[p.labels]
            keep = cols >= 0
            boxes, labels = p.bboxes[keep].detach(), cols[keep]
            if seeds is not None:
                boxes = torch.cat([seeds[i].bboxes.to(boxes), boxes])
                labels = torch.cat([seeds[i].labels.to(labels), labels])
            out.append(InstanceData(bboxes=boxes, labels=labels))
        return out

    def base_scm_boxes(self, proposals: List[Tensor],
                       rec_scores: List[Tensor], queries: Tensor,
                       img_shapes: Sequence,
                       feats: Optional[Tensor] = None) -> List[InstanceData]:
        """The SCM's boxes of the base classes present, per image.

        What :meth:`pseudo_boxes` makes of a novel class, made of a base
        class: the SCM's prediction from the same recognition scores, not
        its ground truth (see ``rec_scm_base_seeds``).

        Args:
            proposals (list[Tensor]): Per image [R_i, 4].
            rec_scores (list[Tensor]): Per image [R_i, C_rec], detached.
            queries (Tensor): [Q, 2] base-class queries (image index, rec
                column), :meth:`base_queries`.
            img_shapes (Sequence): Per image (h, w).
            feats (Tensor, optional): See :meth:`pseudo_boxes`.

        Returns:
            list[InstanceData]: Per image ``bboxes`` [K_i, 4] and global
            ``labels`` [K_i].
        """
        res = self.scm.predict(proposals, rec_scores, queries, img_shapes,
                               feats=feats)
        rec_map = torch.tensor(self.rec_label_map, dtype=torch.long,
                               device=res.labels.device)
        labels, img_ids = rec_map[res.labels], res.img_ids
        return [
            InstanceData(bboxes=res.bboxes[img_ids == i].detach(),
                         labels=labels[img_ids == i])
            for i in range(len(proposals))
        ]

    def unlabelled_proposals(self, rec_scores: List[Tensor],
                             image_labels: Tensor) -> List[Tensor]:
        """Proposals that may hold an object of a novel class present.

        The ``unlabelled_topk`` proposals that the recognition head scores
        highest for a novel class of the image may be (part of) an object
        without a box: the detection head must not learn them as
        background. (A threshold relative to the top score flags nearly
        every proposal while the recognition scores are still flat, which
        leaves the detection head without negatives.)

        Args:
            rec_scores (list[Tensor]): Per image [R_i, C_rec].
            image_labels (Tensor): [B, C] over all classes.

        Returns:
            list[Tensor]: Per image bool [R_i].
        """
        cols = [c for c, g in enumerate(self.rec_label_map)
                if g in self.novel_labels]
        present = image_labels[:, [self.rec_label_map[c] for c in cols]] > 0
        out = []
        for scores, here in zip(rec_scores, present):
            flags = scores.new_zeros((len(scores), ), dtype=torch.bool)
            s = scores[:, cols][:, here.to(scores.device)]
            if len(s) and s.shape[1]:
                k = min(self.unlabelled_topk, len(s))
                flags[s.topk(k, dim=0).indices.flatten()] = True
            out.append(flags)
        return out

    def pseudo_box_scores(self, proposals: List[Tensor],
                          rec_scores: List[Tensor],
                          batch_data_samples: SampleList) -> List[Tensor]:
        """The recognition scores [R_i, C_rec] per image that the pseudo
        boxes are made from: :meth:`scores_off_base_boxes` with
        ``pseudo_off_base_boxes``, else ``rec_scores`` themselves."""
        if not self.pseudo_off_base_boxes:
            return rec_scores
        return self.scores_off_base_boxes(proposals, rec_scores,
                                          batch_data_samples)

    def scores_off_base_boxes(self, proposals: List[Tensor],
                              rec_scores: List[Tensor],
                              batch_data_samples: SampleList,
                              iou_thr: float = 0.5) -> List[Tensor]:
        """Recognition scores whose novel columns are 0 on boxed base
        objects.

        A proposal that overlaps a base-class ground-truth box of its image
        at IoU >= ``iou_thr`` is that labelled object, not an unlabelled
        one (the rule of :func:`oicr_pseudo_labels` for box seeds): it can
        be neither selected for a novel class's heatmap nor its top box.

        Args:
            proposals (list[Tensor]): Per image [R_i, 4].
            rec_scores (list[Tensor]): Per image [R_i, C_rec], detached.
            batch_data_samples (list[DetDataSample]): ``gt_instances``;
                only base-class boxes are read.
            iou_thr (float): The IoU of "the same object".

        Returns:
            list[Tensor]: Per image [R_i, C_rec], new tensors.
        """
        cols = [c for c, g in enumerate(self.rec_label_map)
                if g in self.novel_labels]
        # once, on the batch's device (the samples' labels are there too)
        base = torch.tensor(
            self.base_labels,
            dtype=torch.long,
            device=proposals[0].device if proposals else None)
        out = []
        for props, scores, sample in zip(proposals, rec_scores,
                                         batch_data_samples):
            gt = sample.get('gt_instances')
            scores = scores.clone()
            if gt is None or 'labels' not in gt:  # an image without boxes
                out.append(scores)
                continue
            boxes = get_box_tensor(gt.bboxes)[torch.isin(gt.labels, base)]
            if len(boxes) and len(props) and cols:
                on_base = bbox_overlaps(get_box_tensor(props),
                                        boxes.to(props)).amax(dim=1) >= \
                    iou_thr
                scores[:, cols] = scores[:, cols].masked_fill(
                    on_base[:, None], 0)
            out.append(scores)
        return out

    def pseudo_boxes(self, proposals: List[Tensor], rec_scores: List[Tensor],
                     image_labels: Tensor,
                     img_shapes: Sequence,
                     feats: Optional[Tensor] = None,
                     gated: bool = True) -> List[InstanceData]:
        """Pseudo boxes of the novel classes present in each image.

        One per class (the paper), or with the SCM's ``max_per_query > 1``
        also the further instances it finds. The SCM's boxes with
        ``pseudo_gt='scm'``, unless a ``scm_gate`` finds that the SCM does
        not yet beat the recognition head's top box on the base classes
        (:meth:`scm_earns_its_place`): then the top box. ``gated=False``
        leaves the gate out: the SCM's boxes whatever it says.

        Args:
            proposals (list[Tensor]): per image [R_i, 4].
            rec_scores (list[Tensor]): per image [R_i, C_rec], detached.
            image_labels (Tensor): [B, C] over all classes.
            img_shapes (Sequence): per image (h, w).
            feats (Tensor, optional): [B, C, H_f, W_f] for the SCM's inputs
                (:meth:`DRN.scm_feats`).

        Returns:
            list[InstanceData]: per image ``bboxes`` [K_i, 4], global
            ``labels`` [K_i], ``scores`` [K_i] (the SCM's, or the
            recognition score of the top proposal) and ``from_fallback``
            [K_i] (the SCM found nothing and gave the top proposal).
        """
        rec_col = {g: i for i, g in enumerate(self.rec_label_map)}
        queries = [(i, rec_col[g]) for i in range(len(proposals))
                   for g in self.novel_labels if image_labels[i, g] > 0]
        device = image_labels.device
        q = torch.tensor(queries, dtype=torch.long,
                         device=device).reshape(-1, 2)
        rec_map = torch.tensor(self.rec_label_map, dtype=torch.long,
                               device=device)
        if self.pseudo_gt == 'scm' and (not gated
                                        or self.scm_earns_its_place()):
            res = self.scm.predict(proposals, rec_scores, q, img_shapes,
                                   feats=feats)
            boxes, scores, fallback = res.bboxes, res.scores, \
                res.from_fallback
            img_ids, labels = res.img_ids.to(device), rec_map[res.labels]
        else:
            top = [rec_scores[i][:, c].argmax() for i, c in queries]
            boxes = torch.stack([
                proposals[i][t] for (i, _), t in zip(queries, top)
            ]) if queries else image_labels.new_zeros((0, 4))
            scores = torch.stack([
                rec_scores[i][t, c] for (i, c), t in zip(queries, top)
            ]) if queries else image_labels.new_zeros((0, ))
            fallback = torch.zeros(len(queries), dtype=torch.bool,
                                   device=device)
            img_ids, labels = q[:, 0], rec_map[q[:, 1]]
        out = []
        for i in range(len(proposals)):
            sel = img_ids == i
            out.append(InstanceData(bboxes=boxes[sel].detach(),
                                    labels=labels[sel],
                                    scores=scores[sel].detach(),
                                    from_fallback=fallback[sel]))
        return out

    @torch.no_grad()
    def detection_pseudo_boxes(self, feats: Tensor, proposals: List[Tensor],
                               image_labels: Tensor, batch_img_metas: List,
                               fallback: List[InstanceData]
                               ) -> List[InstanceData]:
        """The detection head's own boxes as the novel classes' pseudo
        boxes (``det_pseudo_boxes``, self-training).

        The detection head's predictions on the proposals (decoded and
        NMSed by its bbox head with ``test_cfg.rcnn``, in the input's
        pixels); for every novel class present in an image, its top box
        and the further ones that score at least the SCM's
        ``min_score_ratio`` of it, at most the SCM's ``max_per_query``
        (1 without an SCM). A class the head does not detect keeps its
        rows of ``fallback`` (:meth:`pseudo_boxes`).

        Args:
            feats (Tensor): [sum R_i, D] shared fc features of the
                proposals (the recognition head's).
            proposals (list[Tensor]): Per image [R_i, 4].
            image_labels (Tensor): [B, C] over all classes.
            batch_img_metas (list[dict]): Per image metas.
            fallback (list[InstanceData]): Per image the pseudo boxes of
                :meth:`pseudo_boxes`.

        Returns:
            list[InstanceData]: as :meth:`pseudo_boxes`'s (``from_fallback``
            True only on the fallback's own fallback rows).
        """
        head = self.roi_head.bbox_head
        cls_score, bbox_pred = head(feats.detach())
        counts = [len(p) for p in proposals]
        dets = head.predict_by_feat(
            rois=tuple(bbox2roi(proposals).split(counts)),
            cls_scores=tuple(cls_score.split(counts)),
            bbox_preds=tuple(bbox_pred.split(counts)),
            batch_img_metas=batch_img_metas,
            rcnn_test_cfg=self.test_cfg.rcnn,
            rescale=False)
        k = self.scm.max_per_query if self.scm is not None else 1
        ratio = self.scm.min_score_ratio if self.scm is not None else 1.
        out = []
        for i, (det, old) in enumerate(zip(dets, fallback)):
            rows = []
            for g in self.novel_labels:
                if image_labels[i, g] <= 0:
                    continue
                mine = det[det.labels == g]
                if not len(mine):
                    rows.append(old[old.labels == g])
                    continue
                # the head's NMS output is sorted by score
                mine = mine[:k]
                mine = mine[mine.scores >= ratio * mine.scores[0]]
                mine.from_fallback = torch.zeros_like(mine.labels,
                                                      dtype=torch.bool)
                rows.append(mine)
            out.append(InstanceData.cat(rows) if rows else old)
        return out

    def detector_pseudo_boxes(self, rec_feats: Tensor,
                              proposals: List[Tensor],
                              box_scores: List[Tensor],
                              image_labels: Tensor,
                              batch_data_samples: SampleList,
                              feats: Optional[Tensor] = None
                              ) -> List[InstanceData]:
        """The novel classes' pseudo boxes the detection head learns:
        :meth:`pseudo_boxes` of ``box_scores``, or, while
        ``det_pseudo_boxes`` is switched on, :meth:`detection_pseudo_boxes`
        with those as the fallback. Arguments as theirs (``rec_feats``:
        [sum R_i, D] shared fc features of the proposals)."""
        img_shapes = [s.metainfo['img_shape'][:2] for s in batch_data_samples]
        pseudo = self.pseudo_boxes(proposals, box_scores, image_labels,
                                   img_shapes, feats=feats)
        if self.det_pseudo_boxes and self.det_pseudo_enabled:
            pseudo = self.detection_pseudo_boxes(
                rec_feats, proposals, image_labels,
                [s.metainfo for s in batch_data_samples], pseudo)
        return pseudo

    def refinement_pseudo_boxes(self, pseudo: List[InstanceData],
                                proposals: List[Tensor],
                                box_scores: List[Tensor],
                                image_labels: Tensor, img_shapes: Sequence,
                                feats: Optional[Tensor] = None
                                ) -> List[InstanceData]:
        """The novel classes' seeds of the refinement (``rec_pseudo_seeds``).

        The detection head's pseudo boxes ``pseudo`` (:meth:`pseudo_boxes`
        of ``box_scores``, per image [R_i, C_rec]); with a ``scm_gate``
        whose ``gate_seeds`` is False and that holds the SCM back, the
        SCM's boxes all the same (``gated=False``): the gate then decides
        what the detection head learns, not what the recognition head does.
        """
        # without a gate the SCM always earns its place
        if (self.pseudo_gt != 'scm' or self.scm_earns_its_place()
                or self.scm_gate['gate_seeds']):
            return pseudo
        return self.pseudo_boxes(proposals, box_scores, image_labels,
                                 img_shapes, feats=feats, gated=False)

    def scm_earns_its_place(self) -> bool:
        """Whether the SCM's boxes are the better pseudo boxes.

        Without a ``scm_gate``: always. With one: when the running mean
        IoU of the SCM's boxes with the base ground truth
        (``scm_gate_iou[0]``) exceeds that of the recognition head's top
        boxes (``scm_gate_iou[1]``), both measured on the training batches'
        base classes (:meth:`update_scm_gate`), where the boxes are known.
        """
        if getattr(self, 'scm_gate', None) is None:
            return True
        return bool(self.scm_gate_iou[0] > self.scm_gate_iou[1])

    @torch.no_grad()
    def update_scm_gate(self, proposals: List[Tensor],
                        rec_scores: List[Tensor], queries: Tensor,
                        targets: List[Tensor], img_shapes: Sequence,
                        feats: Optional[Tensor] = None) -> None:
        """Fold a batch's base-class IoUs into ``scm_gate_iou`` [2].

        Args:
            proposals, rec_scores, img_shapes, feats: as for
                :meth:`pseudo_boxes`.
            queries (Tensor): [Q, 2] base-class queries (image, rec column).
            targets (list[Tensor]): Q ground-truth box sets [K_q, 4].
        """
        if not len(queries):
            return
        scm_boxes = self.scm.predict(proposals, rec_scores, queries,
                                     img_shapes,
                                     feats=feats).bboxes[:len(queries)]
        rec_boxes = torch.stack([
            proposals[i][rec_scores[i][:, c].argmax()]
            for i, c in queries.tolist()
        ])
        ious = scm_boxes.new_zeros((2, len(queries)))
        for q, t in enumerate(targets):
            t = get_box_tensor(t).to(scm_boxes)
            pair = torch.stack([scm_boxes[q], rec_boxes[q]])
            ious[:, q] = bbox_overlaps(pair, t).amax(dim=1)
        m = self.scm_gate['momentum']
        self.scm_gate_iou.mul_(m).add_((1 - m) * ious.mean(dim=1))


def with_pseudo_gt(batch_data_samples: SampleList,
                   pseudo: List[InstanceData]) -> SampleList:
    """Copies of the samples whose gt_instances also hold the pseudo boxes.

    Pseudo boxes supervise the detection head exactly as ground truth does.
    """
    out = []
    for s, p in zip(batch_data_samples, pseudo):
        s = s.clone()
        gt = s.gt_instances
        boxes = torch.cat([get_box_tensor(gt.bboxes),
                           p.bboxes.to(get_box_tensor(gt.bboxes))])
        if isinstance(gt.bboxes, BaseBoxes):
            boxes = type(gt.bboxes)(boxes)
        s.gt_instances = InstanceData(
            bboxes=boxes,
            labels=torch.cat([gt.labels, p.labels.to(gt.labels)]))
        out.append(s)
    return out
