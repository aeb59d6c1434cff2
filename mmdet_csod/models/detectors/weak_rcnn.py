"""Weakly supervised two-stage detector on precomputed proposals."""
from mmdet.models.detectors import TwoStageDetector
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import InstanceList
from torch import Tensor

from ...structures import nms_instances


@MODELS.register_module()
class WeakRCNN(TwoStageDetector):
    """Backbone, then a :class:`MILRoIHead` on precomputed proposals.

    Trained from image-level labels alone (WSDDN, OICR, PCL): no RPN, no box
    supervision; a class unknown in an image (the samples'
    ``image_label_weights`` 0, read by the RoI head with
    :func:`~mmdet_csod.structures.image_label_weights_of`) is left out of
    that image's losses instead of counted as absent. ``loss`` /
    ``predict`` / ``_forward`` are :class:`TwoStageDetector`'s, which pass
    the samples' ``proposals`` to the RoI head.
    :meth:`predict_proposal_scores` exposes the scores of every proposal
    before NMS, for test-time augmentation that averages scores.
    """

    def __init__(self,
                 backbone: dict,
                 roi_head: dict,
                 train_cfg: dict = None,
                 test_cfg: dict = None,
                 neck: dict = None,
                 data_preprocessor: dict = None,
                 with_proposal_instances: bool = False,
                 init_cfg=None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            rpn_head=None,
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            init_cfg=init_cfg,
            data_preprocessor=data_preprocessor)
        self.with_proposal_instances = with_proposal_instances

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """mmdet's two-stage predict on the samples' proposals; with
        ``with_proposal_instances`` each sample also carries
        ``proposal_instances`` (every proposal, ``bboxes`` [R, 4] and
        ``scores`` [R, C] before NMS, from the same features), which
        ``CorLocMetric(convention='voc')`` takes its arg-max boxes from."""
        if not self.with_proposal_instances:
            return super().predict(batch_inputs, batch_data_samples, rescale)
        # the RoI head's predict is NMS over these scores: run it once
        scored = self.predict_proposal_scores(batch_inputs,
                                              batch_data_samples, rescale)
        results = [nms_instances(r, self.roi_head.test_cfg) for r in scored]
        samples = self.add_pred_to_datasample(batch_data_samples, results)
        for sample, props in zip(samples, scored):
            sample.proposal_instances = props
        return samples

    def predict_proposal_scores(self,
                                batch_inputs: Tensor,
                                batch_data_samples: SampleList,
                                rescale: bool = True) -> InstanceList:
        """Per image: every proposal (``bboxes`` [R, 4], original image
        coordinates when ``rescale``) and its ``scores`` [R, C]."""
        x = self.extract_feat(batch_inputs)
        return self.roi_head.predict_proposal_scores(
            x, [s.proposals for s in batch_data_samples], batch_data_samples,
            rescale)
