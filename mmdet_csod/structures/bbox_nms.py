"""Per-class NMS of per-proposal class scores into detections."""
import torch
from mmdet.models.layers import multiclass_nms
from mmengine.structures import InstanceData


def nms_instances(raw: InstanceData, test_cfg) -> InstanceData:
    """Per-class NMS of ``raw.bboxes`` [R, 4] / [R, C * 4] and ``scores``
    [R, C] into ``bboxes`` [K, 4], ``scores`` [K], ``labels`` [K]."""
    scores = torch.cat(
        [raw.scores, raw.scores.new_zeros(len(raw.scores), 1)],
        dim=1)  # multiclass_nms expects a background column
    dets, labels = multiclass_nms(raw.bboxes, scores, test_cfg.score_thr,
                                  test_cfg.nms, test_cfg.max_per_img)
    return InstanceData(bboxes=dets[:, :4], scores=dets[:, 4], labels=labels)
