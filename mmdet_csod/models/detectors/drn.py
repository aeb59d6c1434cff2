"""The Detection-Recognition Network (cross-supervised detection)."""
import copy
from typing import Dict, Optional

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor

from ...structures import (complete_class_split, image_label_weights_of,
                           image_labels_of)
from .drn_evidence import EVIDENCE_STREAMS, DRNEvidenceMixin
from .drn_objectness import DRNObjectnessMixin
from .drn_stages import DRNStagesMixin
from .drn_targets import DRNTargetsMixin, with_pseudo_gt

PSEUDO_GT_SOURCES = ('none', 'rec', 'scm')
REC_CLASSES = ('all', 'novel')
NOVEL_FROM = ('det', 'rec')


@MODELS.register_module()
class DRN(DRNTargetsMixin, DRNEvidenceMixin, DRNObjectnessMixin,
          DRNStagesMixin, TwoStageDetector):
    """Detection-Recognition Network: recognition head -> SCM -> detection.

    One backbone; RoI features of the proposals (RoI pooling + two fc
    layers, owned by the recognition head) feed

    1. ``rec_head``, a :class:`MILRoIHead` (WSDDN / OICR / PCL) trained from
       image-level labels of ``rec_classes`` ('novel' or 'all');
    2. ``scm``, the spatial correlation module: trained on base classes
       (heatmaps of the recognition head's confident boxes -> base ground
       truth), applied to novel classes to refine their pseudo boxes;
    3. ``roi_head``, a Faster R-CNN style detection head over all classes
       (``SharedFeatureRoIHead``), trained on base ground truth plus, for
       every novel class in the image, one pseudo box: the recognition
       head's top-scoring proposal (``pseudo_gt='rec'``) or the SCM's box
       (``'scm'``); ``'none'`` gives it no novel supervision.

    Losses are prefixed ``rec_``, ``scm_``, ``det_`` (and ``rpn_``) and
    weighted by ``loss_weights`` (the paper: rec 1, det 10, scm 10).
    ``pseudo_gt_enabled`` (switched by ``PseudoGTSwitchHook``) holds back the
    recognition -> detection supervision during the first epochs.

    Why the SCM needs ``rec_classes='all'``: the SCM learns the mapping from
    recognition boxes to object boxes on base classes, whose ground truth is
    known, so the recognition head must score base classes too. With
    ``rec_classes='novel'`` (Two Head, Ours w/o SCM) no SCM can be trained.

    At inference only the detection head runs (``novel_from='det'``), at the
    cost of a Fast R-CNN with the same backbone; the baselines whose
    detection head never sees a novel box take novel detections from the
    recognition head (``novel_from='rec'``) through the same predict path.
    No novel ground-truth box is ever read: a training sample whose
    ``gt_instances`` or ``ignored_instances`` holds a novel label is an
    error.

    Args:
        backbone, neck, rpn_head, data_preprocessor, init_cfg: as in
            :class:`TwoStageDetector`.
        rec_head (dict): A :class:`MILRoIHead` config; its bbox_head's
            ``num_classes`` must equal the number of ``rec_classes``.
        roi_head (dict): A :class:`SharedFeatureRoIHead` config over all
            classes.
        class_split (dict): ``classes`` and ``base_classes`` and/or
            ``novel_classes`` (the dataset's metainfo; a split left out is
            the other classes).
        scm (dict, optional): A ``SpatialCorrelationModule`` config.
        rec_classes (str): 'all' or 'novel'.
        share_roi_features (bool): The detection head uses the recognition
            head's fc features (False: its own, "Two Branch").
        pseudo_gt (str): 'none', 'rec' or 'scm'.
        novel_from (str): 'det' or 'rec' at inference.
        loss_weights (dict): ``rec``, ``det``, ``scm``, ``rpn``.
        pseudo_gt_enabled (bool): Initial state of the warm-up switch.
        scm_gate (dict, optional): ``dict(momentum=0.9)``: use the SCM's
            pseudo boxes only while, on the training batches' base classes,
            their running mean IoU with the ground truth beats the
            recognition head's top box (else the top box, as without SCM);
            None: always the SCM's (the paper). ``gate_seeds=False``: the
            gate decides the detection head's pseudo boxes only, and the
            refinement seeds of ``rec_pseudo_seeds`` stay the SCM's boxes
            (:meth:`refinement_pseudo_boxes`).
        rec_box_seeds (bool): The recognition head's refinement takes the
            base classes' boxes as its seeds for those classes (and no
            novel seed on a base box) instead of their top-scoring
            proposals; False: image labels only, as in the paper.
        rec_pseudo_seeds (bool): While the pseudo boxes are on, the novel
            classes' pseudo boxes (the SCM's) are the seeds of their classes
            in the recognition head's refinement instead of its own
            top-scoring proposals, so that the recognition head learns the
            boxes the SCM made of its evidence (beyond the paper); False:
            as in the paper.
        pseudo_off_base_boxes (bool): A novel class's pseudo boxes are
            made from recognition scores that are 0 on the proposals of
            boxed base objects (:meth:`scores_off_base_boxes`): a labelled
            object is not an unlabelled one (beyond the paper); False: from
            every proposal, as in the paper.
        rec_scm_base_seeds (bool): With ``rec_pseudo_seeds``, the base
            classes' seeds in the refinement are the SCM's boxes of them
            too (:meth:`base_scm_boxes`), not their top-scoring proposals:
            the SCM learns from base-class heatmaps and is applied to
            novel-class ones, so both are made by a recognition head
            trained the same way (beyond the paper); False: only the novel
            classes take the SCM's boxes.
        objectness_head (dict, optional): An :class:`ObjectnessHead` on
            the shared fc features, trained on the base boxes
            (``obj_`` losses, weight ``loss_weights['obj']``, default 1);
            the recognition scores that the SCM, the pseudo boxes and the
            unlabelled proposals are made from are weighed by its
            objectness (:meth:`weigh_by_objectness`; beyond the paper).
            None: the recognition scores alone, as in the paper.
        scm_evidence (str): The recognition scores the SCM and the pseudo
            boxes are made from: 'refined' (the refinement branches', the
            paper) or 'mil' (the MIL stream's, learnt from image labels
            alone for base and novel classes alike; beyond the paper).
        exclusive_evidence (bool): Those scores weighed against the image's
            other present classes (:meth:`exclusive_scores`, beyond the
            paper); False: as they are.
        det_pseudo_boxes (bool): While ``det_pseudo_enabled`` (switched
            by ``PseudoGTSwitchHook``'s ``det_start_epoch``; True when
            built), the novel classes' pseudo boxes are the
            detection head's own detections
            (:meth:`detection_pseudo_boxes`, self-training; beyond the
            paper); False: the SCM's (or the top proposals).
        unlabelled_topk (int, optional): With a value, the ``k`` proposals
            the recognition head scores highest for each novel class present
            in the image are never background for the detection head (see
            :meth:`unlabelled_proposals`); None: every proposal away from
            the boxes can be background, as in the paper.
        train_cfg (dict): ``rpn``, ``rpn_proposal``, ``rcnn`` as in mmdet.
        test_cfg (dict): ``rpn``, ``rcnn`` (detection head) and ``rec``
            (recognition head NMS, used when ``novel_from='rec'``).
    """

    def __init__(self,
                 backbone: dict,
                 rec_head: dict,
                 roi_head: dict,
                 class_split: dict,
                 scm: Optional[dict] = None,
                 rpn_head: Optional[dict] = None,
                 neck: Optional[dict] = None,
                 rec_classes: str = 'all',
                 share_roi_features: bool = True,
                 pseudo_gt: str = 'scm',
                 novel_from: str = 'det',
                 loss_weights: dict = dict(rec=1.0, det=10.0, scm=10.0),
                 pseudo_gt_enabled: bool = True,
                 unlabelled_topk: Optional[int] = None,
                 rec_box_seeds: bool = False,
                 rec_pseudo_seeds: bool = False,
                 pseudo_off_base_boxes: bool = False,
                 rec_scm_base_seeds: bool = False,
                 scm_gate: Optional[dict] = None,
                 objectness_head: Optional[dict] = None,
                 det_pseudo_boxes: bool = False,
                 scm_evidence: str = 'refined',
                 exclusive_evidence: bool = False,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None) -> None:
        for name, value, allowed in [('rec_classes', rec_classes, REC_CLASSES),
                                     ('pseudo_gt', pseudo_gt,
                                      PSEUDO_GT_SOURCES),
                                     ('novel_from', novel_from, NOVEL_FROM),
                                     ('scm_evidence', scm_evidence,
                                      EVIDENCE_STREAMS)]:
            if value not in allowed:
                raise ValueError(f'{name} must be one of {allowed}, got '
                                 f'{value!r}')
        if pseudo_gt == 'scm' and scm is None:
            raise ValueError("pseudo_gt='scm' needs an scm config")
        if scm is not None and rec_classes != 'all':
            raise ValueError(
                "the SCM learns on base classes from the recognition head's "
                "base-class boxes: it needs rec_classes='all'")
        super().__init__(
            backbone=backbone,
            neck=neck,
            rpn_head=rpn_head,
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        class_split = complete_class_split(class_split)
        classes = list(class_split['classes'])
        self.num_classes = len(classes)
        self.base_labels = [classes.index(c)
                            for c in class_split['base_classes']]
        self.novel_labels = [classes.index(c)
                             for c in class_split['novel_classes']]
        self.rec_classes = rec_classes
        # rec column -> global label
        self.rec_label_map = (list(range(self.num_classes))
                              if rec_classes == 'all' else self.novel_labels)
        rec_head = copy.deepcopy(rec_head)
        rec_head.update(test_cfg=(test_cfg or {}).get('rec'))
        self.rec_head = MODELS.build(rec_head)
        if self.rec_head.bbox_head.num_classes != len(self.rec_label_map):
            raise ValueError(
                f'rec_head has {self.rec_head.bbox_head.num_classes} classes '
                f'but rec_classes={rec_classes!r} means '
                f'{len(self.rec_label_map)}')
        if self.roi_head.bbox_head.num_classes != self.num_classes:
            raise ValueError(
                f'roi_head has {self.roi_head.bbox_head.num_classes} classes, '
                f'class_split {self.num_classes}')
        self.scm = MODELS.build(scm) if scm is not None else None
        self.objectness_head = MODELS.build(
            objectness_head) if objectness_head is not None else None
        self.share_roi_features = share_roi_features
        if share_roi_features:
            self.roi_head.share_features(self.rec_head.extract_roi_features)
        self.pseudo_gt = pseudo_gt
        self.scm_evidence = scm_evidence
        self.exclusive_evidence = exclusive_evidence
        self.novel_from = novel_from
        self.loss_weights = dict(rec=1.0, det=10.0, scm=10.0, rpn=1.0, obj=1.0)
        self.loss_weights.update(loss_weights)
        self.pseudo_gt_enabled = pseudo_gt_enabled
        self.det_pseudo_boxes = det_pseudo_boxes
        self.det_pseudo_enabled = True
        if unlabelled_topk is not None and (
                isinstance(unlabelled_topk, bool)
                or not isinstance(unlabelled_topk, int)
                or unlabelled_topk < 1):
            raise ValueError(f'unlabelled_topk must be >= 1, got '
                             f'{unlabelled_topk}')
        self.unlabelled_topk = unlabelled_topk
        self.rec_box_seeds = rec_box_seeds
        self.rec_pseudo_seeds = rec_pseudo_seeds
        self.pseudo_off_base_boxes = pseudo_off_base_boxes
        if rec_scm_base_seeds and (scm is None or not rec_pseudo_seeds
                                   or rec_box_seeds):
            raise ValueError('rec_scm_base_seeds needs an scm and '
                             'rec_pseudo_seeds, and replaces rec_box_seeds')
        self.rec_scm_base_seeds = rec_scm_base_seeds
        self.scm_gate = None
        if scm_gate is not None:
            if scm is None:
                raise ValueError('scm_gate needs an scm')
            self.scm_gate = dict(momentum=0.9, gate_seeds=True)
            unknown = sorted(set(scm_gate) - set(self.scm_gate))
            if unknown:
                raise ValueError(f'scm_gate: unknown keys {unknown} '
                                 '(momentum, gate_seeds)')
            self.scm_gate.update(scm_gate)
            if not 0 <= self.scm_gate['momentum'] < 1:
                raise ValueError('scm_gate momentum must be in [0, 1)')
            # running mean IoU with the base boxes: [SCM, rec top box]
            self.register_buffer('scm_gate_iou', torch.zeros(2))

    # ------------------------------------------------------------ training
    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """rec_*, scm_*, det_* (and rpn_*, obj_*) losses of a batch.

        The step, as public calls with explicit data: backbone features ->
        proposals (given, or the RPN's) -> ``rec_head.forward_rois``
        (features and scores of every proposal; with an objectness head
        its loss, and the scores weighed by it) -> the novel classes'
        pseudo boxes (``detector_pseudo_boxes``, from the detached scores,
        while they are on) -> the recognition loss (with
        ``rec_pseudo_seeds`` the pseudo boxes seed its refinement); the
        SCM's loss on the base classes of the batch (classes unknown in an
        image,
        ``image_label_weights`` 0, are neither targets nor negatives of
        that image's recognition and detection losses); the pseudo boxes
        and the proposals that must not be background
        (``unlabelled_proposals``) -> the detection head's loss on the
        recognition head's features.
        """
        self._check_no_novel_boxes(batch_data_samples)
        x = self.extract_feat(batch_inputs)
        losses = {}
        rpn_results_list = self._proposals_for_training(
            x, batch_data_samples, losses)
        w = self.loss_weights
        image_labels = image_labels_of(batch_data_samples)
        label_weights = image_label_weights_of(batch_data_samples)
        img_shapes = [s.metainfo['img_shape'] for s in batch_data_samples]
        use_pseudo = self.pseudo_gt != 'none' and self.pseudo_gt_enabled
        rec = None
        if (w['rec'] > 0 or self.scm is not None or use_pseudo
                or self.unlabelled_topk is not None):
            rec = self.rec_head.forward_rois(x, rpn_results_list)
            proposals = [p.detach() for p in rec.proposals]
            obj_logits = self.objectness_logits(rec.feats)
            if obj_logits is not None:
                losses.update(_weighted('obj_', self.objectness_loss(
                    obj_logits, proposals, batch_data_samples, image_labels,
                    label_weights), w['obj']))
            rec_scores = self.weigh_by_objectness(
                [s.detach() for s in rec.scores], obj_logits)
            evidence = self.weigh_by_objectness(
                self.evidence_scores(rec, image_labels), obj_logits)
            scm_feats = self.scm_feats(batch_inputs, x)
            box_scores = self.pseudo_box_scores(
                proposals, evidence,
                batch_data_samples) if use_pseudo else None
            pseudo = self.detector_pseudo_boxes(
                rec.feats, proposals, box_scores, image_labels,
                batch_data_samples, feats=scm_feats) if use_pseudo else None
            seeds = self.rec_gt_instances(batch_data_samples) \
                if self.rec_box_seeds else None
            if self.rec_pseudo_seeds and pseudo is not None:
                seed_boxes = self.refinement_pseudo_boxes(
                    pseudo, proposals, box_scores, image_labels,
                    img_shapes, feats=scm_feats)
                if self.rec_scm_base_seeds:  # never the detection head's
                    seed_boxes = [
                        InstanceData(
                            bboxes=torch.cat([b.bboxes, p.bboxes]),
                            labels=torch.cat([b.labels, p.labels]))
                        for b, p in zip(
                            self.base_scm_boxes(
                                proposals, evidence,
                                self.base_queries(batch_data_samples)[0],
                                img_shapes, feats=scm_feats), pseudo)
                    ]
                seeds = self.rec_seed_instances(seed_boxes, seeds)
            rec_losses = self.rec_head.bbox_head.loss(
                rec.outs,
                rec.proposals,
                image_labels[:, self.rec_label_map],
                seeds,
                image_label_weights=None if label_weights is None else
                label_weights[:, self.rec_label_map])
            losses.update(_weighted('rec_', rec_losses, w['rec']))
            if self.scm is not None:
                queries, targets = self.base_queries(batch_data_samples)
                scm_losses = self.scm.loss(proposals, evidence, queries,
                                           targets, img_shapes,
                                           feats=scm_feats)
                if self.scm_gate is not None:
                    self.update_scm_gate(proposals, evidence, queries,
                                         targets, img_shapes,
                                         feats=scm_feats)
                losses.update(_weighted('scm_', scm_losses, w['scm']))
        if w['det'] <= 0:
            return losses
        det_samples = batch_data_samples
        if use_pseudo:
            det_samples = with_pseudo_gt(batch_data_samples, pseudo)
        unlabelled = None
        if rec is not None and self.unlabelled_topk is not None:
            unlabelled = self.unlabelled_proposals(rec_scores, image_labels)
        # the sampled proposals reuse the recognition head's features
        reuse = rec is not None and self.roi_head.shares_features
        det_losses = self.roi_head.loss(
            x, [InstanceData(bboxes=r.bboxes) for r in rpn_results_list],
            det_samples,
            proposal_feats=rec.feats.split([len(p) for p in proposals])
            if reuse else None,
            unlabelled=unlabelled,
            image_label_weights=label_weights)
        losses.update(_weighted('det_', det_losses, w['det']))
        return losses

    def scm_feats(self, batch_inputs: Tensor, x) -> Optional[Tensor]:
        """What the SCM's inputs part reads besides the heatmaps (its
        ``feats_of``: the images, the backbone features, or None)."""
        if self.scm is None:
            return None
        return self.scm.inputs.feats_of(batch_inputs, x)

    def _proposals_for_training(self, x, batch_data_samples,
                                losses) -> InstanceList:
        if not self.with_rpn:
            for s in batch_data_samples:
                if s.get('proposals') is None:
                    raise KeyError(
                        f'{s.metainfo.get("img_path")}: no proposals and no '
                        'rpn_head')
            return [s.proposals for s in batch_data_samples]
        proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
        rpn_samples = copy.deepcopy(batch_data_samples)
        for s in rpn_samples:
            s.gt_instances.labels = torch.zeros_like(s.gt_instances.labels)
        rpn_losses, results = self.rpn_head.loss_and_predict(
            x, rpn_samples, proposal_cfg=proposal_cfg)
        rpn_losses = {k.replace('loss_rpn_', 'loss_'): v
                      for k, v in rpn_losses.items()}
        losses.update(_weighted('rpn_', rpn_losses, self.loss_weights['rpn']))
        return results

    # ----------------------------------------------------------- inference
    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Detection head predictions over all classes (novel from the
        recognition head when ``novel_from='rec'``)."""
        x = self.extract_feat(batch_inputs)
        rpn_results_list = self.proposals_for_test(x, batch_data_samples)
        results = self.detections(x, rpn_results_list, batch_data_samples,
                                  rescale)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def detections(self, x, rpn_results_list: InstanceList,
                   batch_data_samples: SampleList,
                   rescale: bool = True) -> InstanceList:
        """Per image ``bboxes`` [K, 4], ``scores`` [K], ``labels`` [K] of
        the detection head (novel ones from the recognition head when
        ``novel_from='rec'``), from backbone features ``x``."""
        results = self.roi_head.predict(
            x, rpn_results_list, batch_data_samples, rescale=rescale)
        if self.novel_from == 'rec':
            rec = self.rec_head.predict(x, rpn_results_list,
                                        batch_data_samples, rescale=rescale)
            results = [self._merge_novel(d, r) for d, r in zip(results, rec)]
        return results

    def proposals_for_test(self, x, batch_data_samples) -> InstanceList:
        """Per image ``bboxes`` [R_i, 4]: the RPN's, else the samples'."""
        if self.with_rpn:
            return self.rpn_head.predict(x, batch_data_samples, rescale=False)
        return [s.proposals for s in batch_data_samples]

    def _merge_novel(self, det: InstanceData,
                     rec: InstanceData) -> InstanceData:
        """Base detections of the detection head + novel ones of the
        recognition head (rec labels mapped to global labels)."""
        novel = torch.tensor(self.novel_labels, device=det.labels.device)
        rec_map = torch.tensor(self.rec_label_map, device=det.labels.device)
        rec = rec.clone()
        rec.labels = rec_map[rec.labels]
        keep_det = ~torch.isin(det.labels, novel)
        keep_rec = torch.isin(rec.labels, novel)
        return InstanceData.cat([det[keep_det], rec[keep_rec]])


def _weighted(prefix: str, losses: dict, weight: float) -> dict:
    """Prefix every key; scale the values of keys that are losses."""
    out = {}
    for key, value in losses.items():
        if 'loss' in key:
            value = [v * weight for v in value] if isinstance(
                value, list) else value * weight
        out[prefix + key] = value
    return out
