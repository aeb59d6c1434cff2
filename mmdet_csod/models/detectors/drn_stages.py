"""What each stage of a DRN makes of a batch: scores before NMS, and the
MIL stream's, recognition, SCM, pseudo-box and detection outputs side by
side."""
from typing import Dict, List, Tuple

import torch
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, get_box_tensor, scale_boxes
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from ...structures import image_labels_of


def top_proposals(proposals: List[Tensor], scores: List[Tensor],
                  queries: Tensor) -> Tuple[Tensor, Tensor]:
    """Each query's top-scoring proposal, all queries at once.

    Args:
        proposals (list[Tensor]): Per image [R_i, 4].
        scores (list[Tensor]): Per image [R_i, C].
        queries (Tensor): [Q, 2] long (image index, class column).

    Returns:
        tuple: ``boxes`` [Q, 4] and their ``scores`` [Q] (the first of
        equal scores; a zero box scored -inf for an image without
        proposals).
    """
    if not len(queries):
        return proposals[0].new_zeros((0, 4)), scores[0].new_zeros((0, ))
    img = queries[:, 0].to(scores[0].device)
    col = queries[:, 1].to(scores[0].device)
    padded = pad_sequence(scores, batch_first=True,
                          padding_value=float('-inf'))  # [B, R_max, C]
    per_query = padded[img, :, col]  # [Q, R_max]
    best = per_query.argmax(dim=1)
    boxes = pad_sequence(proposals, batch_first=True)[img, best]
    return boxes, per_query[torch.arange(len(best)), best]


class DRNStagesMixin:
    """Inference entry points of :class:`DRN` beyond ``predict``.

    ``predict_proposal_scores`` gives every proposal's boxes and scores
    before NMS (for test-time augmentation that averages scores);
    ``predict_stages`` gives, per image, the output of every stage of the
    chain (for the Figure-4 pictures and the stage diagnostics).
    """

    def predict_proposal_scores(self,
                                batch_inputs: Tensor,
                                batch_data_samples: SampleList,
                                rescale: bool = True) -> InstanceList:
        """Per image, before NMS: ``bboxes`` [R, C * 4] (decoded by the
        detection head's bbox head; the proposal itself for classes taken
        from the recognition head) and ``scores`` [R, C]."""
        x = self.extract_feat(batch_inputs)
        rpn_results_list = self.proposals_for_test(x, batch_data_samples)
        proposals = [get_box_tensor(r.bboxes) for r in rpn_results_list]
        counts = [len(p) for p in proposals]
        rois = bbox2roi(proposals)
        res = self.roi_head.forward_rois(x, rois)
        head = self.roi_head.bbox_head
        metas = [s.metainfo for s in batch_data_samples]
        raw = head.predict_by_feat(
            rois=tuple(rois.split(counts)),
            cls_scores=tuple(res['cls_score'].split(counts)),
            bbox_preds=tuple(res['bbox_pred'].split(counts)),
            batch_img_metas=metas,
            rcnn_test_cfg=None,
            rescale=rescale)
        rec_scores = None
        if self.novel_from == 'rec':
            rec_scores = self.rec_head.forward_rois(x, rpn_results_list).scores
        cols = [c for c, g in enumerate(self.rec_label_map)
                if g in self.novel_labels]
        glob = [self.rec_label_map[c] for c in cols]
        out = []
        for i, (r, p) in enumerate(zip(raw, proposals)):
            scores = r.scores[:, :-1]
            boxes = r.bboxes.reshape(len(p), -1, 4).expand(
                -1, self.num_classes, -1).clone()
            if rec_scores is not None:
                scores = scores.clone()
                scores[:, glob] = rec_scores[i][:, cols]
                if rescale:
                    sf = metas[i]['scale_factor']
                    p = scale_boxes(p, [1 / f for f in sf])
                boxes[:, glob] = p[:, None]
            out.append(InstanceData(bboxes=boxes.reshape(len(p), -1),
                                    scores=scores))
        return out

    @torch.no_grad()
    def predict_stages(self,
                       batch_inputs: Tensor,
                       batch_data_samples: SampleList,
                       rescale: bool = True,
                       with_heatmaps: bool = False) -> List[Dict]:
        """Every stage's output for the classes of each image's labels.

        Args:
            batch_inputs (Tensor): [B, 3, H, W], preprocessed.
            batch_data_samples (list[DetDataSample]): With ``image_labels``
                (and ``proposals`` without an RPN).
            rescale (bool): Boxes in original image pixels (else in the
                input's).
            with_heatmaps (bool): Also return the SCM's input heatmaps.

        Returns:
            list[dict]: Per image, InstanceData with ``bboxes`` [K, 4],
            global ``labels`` [K] and ``scores`` [K]:

            - ``mil`` (None when the recognition head has no MIL stream):
              the top-scoring proposal of every present class it scores
              by its MIL stream's scores (WSDDN's, the image labels' only
              learner and the seed of the first refinement branch);
            - ``rec``: the recognition head's top-scoring proposal of every
              present class it scores;
            - ``scm`` (None without an SCM): the SCM's box of every present
              class the recognition head scores (from its scores weighed
              by the objectness head's, when there is one), base classes
              included (where its training targets are), with
              ``from_fallback`` [K]
              (several rows per class with the SCM's ``max_per_query > 1``,
              the top one first);
            - ``pseudo``: the pseudo boxes the detection head would get
              for the novel classes (empty for ``pseudo_gt='none'``), with
              ``from_fallback``;
            - ``det``: the model's predictions (``predict``'s
              ``pred_instances``);
            - ``heatmaps`` (with ``with_heatmaps`` and an SCM): [K, M, h, w]
              in heatmap pixels (unpadded to the largest), one per ``scm``
              row, and ``heatmap_stride``.
        """
        x = self.extract_feat(batch_inputs)
        rpn_results_list = self.proposals_for_test(x, batch_data_samples)
        rec = self.rec_head.forward_rois(x, rpn_results_list)
        # what the SCM and the pseudo boxes are made from (the recognition
        # scores of the ``scm_evidence`` stream, weighed by an objectness
        # head's scores when there is one)
        image_labels = image_labels_of(batch_data_samples).to(
            rec.feats.device)
        evidence = self.weigh_by_objectness(
            self.evidence_scores(rec, image_labels),
            self.objectness_logits(rec.feats))
        img_shapes = [s.metainfo['img_shape'][:2] for s in batch_data_samples]
        rec_col = {g: i for i, g in enumerate(self.rec_label_map)}
        queries, labels = [], []
        for i in range(len(batch_data_samples)):
            for g in torch.nonzero(image_labels[i] > 0).flatten().tolist():
                if g in rec_col:
                    queries.append((i, rec_col[g]))
                    labels.append(g)
        q = torch.tensor(queries, dtype=torch.long).reshape(-1, 2)
        labels = torch.tensor(labels, dtype=torch.long)
        dev = rec.feats.device
        rec_boxes, rec_sc = top_proposals(rec.proposals, rec.scores, q)
        mil = self.mil_stream_scores(rec)
        if mil is not None:
            mil_boxes, mil_sc = top_proposals(rec.proposals, mil, q)
        scm_res = maps = None
        scm_feats = self.scm_feats(batch_inputs, x)
        if self.scm is not None and queries:
            scm_res = self.scm.predict(rec.proposals, evidence, q,
                                       img_shapes, feats=scm_feats)
            if with_heatmaps:
                maps, _ = self.scm.heatmaps(rec.proposals, evidence, q,
                                            img_shapes)
        pseudo = [InstanceData(bboxes=rec_boxes[:0], labels=labels[:0],
                               scores=rec_sc[:0],
                               from_fallback=labels[:0].bool())
                  for _ in batch_data_samples]
        if self.pseudo_gt != 'none':
            scores = self.pseudo_box_scores(rec.proposals, evidence,
                                            batch_data_samples)
            pseudo = self.detector_pseudo_boxes(
                rec.feats, rec.proposals, scores, image_labels,
                batch_data_samples, feats=scm_feats)
        # the detections from the same features (no second backbone pass)
        dets = self.add_pred_to_datasample(
            batch_data_samples,
            self.detections(x, rpn_results_list, batch_data_samples,
                            rescale))
        out = []
        for i, sample in enumerate(batch_data_samples):
            sf = sample.metainfo.get('scale_factor', (1., 1.))
            inv = [1 / f for f in sf] if rescale else [1., 1.]
            sel = (q[:, 0] == i).to(dev)
            item = dict(
                mil=None if mil is None else InstanceData(
                    bboxes=scale_boxes(mil_boxes[sel], inv),
                    labels=labels.to(dev)[sel],
                    scores=mil_sc[sel]),
                rec=InstanceData(
                    bboxes=scale_boxes(rec_boxes[sel], inv),
                    labels=labels.to(dev)[sel],
                    scores=rec_sc[sel]),
                scm=None,
                pseudo=InstanceData(
                    bboxes=scale_boxes(pseudo[i].bboxes, inv),
                    labels=pseudo[i].labels,
                    scores=pseudo[i].scores,
                    from_fallback=pseudo[i].from_fallback),
                det=dets[i].pred_instances)
            if scm_res is not None:
                rows = scm_res.img_ids.to(dev) == i
                qids = scm_res.query_ids[rows]
                item['scm'] = InstanceData(
                    bboxes=scale_boxes(scm_res.bboxes[rows], inv),
                    labels=labels.to(dev)[qids],
                    scores=scm_res.scores[rows],
                    from_fallback=scm_res.from_fallback[rows])
                if maps is not None:
                    item['heatmaps'] = maps[qids.to(maps.device)]
                    item['heatmap_stride'] = self.scm.heatmap_stride
            out.append(item)
        return out
