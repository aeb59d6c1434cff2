"""Test-time augmentation of proposal-based detectors by score averaging."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_flip, get_box_tensor
from mmengine.config import ConfigDict
from mmengine.model import BaseTTAModel
from mmengine.structures import InstanceData
from torch import nn

from ...structures import nms_instances

TTA_CFG_KEYS = ('score_thr', 'nms', 'max_per_img')


@MODELS.register_module()
class ScoreAveragingTTAModel(BaseTTAModel):
    """Multi-scale and flip testing with the WSOD convention (OICR, PCL).

    Every view of an image scores the same proposals, so the per-proposal
    class scores are averaged over the views *before* NMS, and per-class
    NMS runs once on the averaged scores. The wrapped detector must
    implement ``predict_proposal_scores(batch_inputs, batch_data_samples,
    rescale=True)`` returning, per image, an :obj:`InstanceData` with every
    proposal's ``bboxes`` ([R, 4], or per class [R, C * 4]) in original
    image coordinates (flipped views still flipped) and its ``scores``
    [R, C].

    Each view is un-flipped with the ``flip`` / ``flip_direction`` of its
    data sample and the original image shape ``ori_shape`` (a view without
    ``flip`` in its metainfo counts as not flipped, so pack the views with
    those meta keys); the un-flipped, un-scaled boxes of the views agree up
    to float rounding and are averaged too.

    The data come from mmcv's ``TestTimeAug`` (see the ``tta_pipeline`` of
    ``configs/_base_/datasets/*_csod.py``); ``tools/test.py --tta`` wraps
    the config's model with ``tta_model``.

    Args:
        module (dict or nn.Module): The detector.
        tta_cfg (dict, optional): ``score_thr``, ``nms`` and
            ``max_per_img`` of the final per-class NMS. Defaults to the
            module's ``test_cfg.rcnn`` (or ``test_cfg``).
        data_preprocessor (dict or nn.Module, optional): Replaces the
            module's data preprocessor when ``module`` is a dict.

    Examples:
        >>> tta_model = dict(
        >>>     type='ScoreAveragingTTAModel',
        >>>     tta_cfg=dict(
        >>>         score_thr=1e-3,
        >>>         nms=dict(type='nms', iou_threshold=0.3),
        >>>         max_per_img=100))
    """

    def __init__(self,
                 module: Union[dict, nn.Module],
                 tta_cfg: Optional[dict] = None,
                 data_preprocessor: Union[dict, nn.Module, None] = None):
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        if not callable(getattr(self.module, 'predict_proposal_scores', None)):
            raise TypeError(
                f'{type(self).__name__} averages proposal scores, but '
                f'{type(self.module).__name__} has no '
                'predict_proposal_scores(batch_inputs, batch_data_samples, '
                'rescale); use mmdet\'s DetTTAModel for other detectors')
        if tta_cfg is None:
            tta_cfg = self._module_test_cfg()
        missing = [k for k in TTA_CFG_KEYS if k not in tta_cfg]
        if missing:
            raise KeyError(f'tta_cfg needs {", ".join(missing)}; got '
                           f'{dict(tta_cfg)}')
        self.tta_cfg = ConfigDict(tta_cfg)

    def _module_test_cfg(self) -> dict:
        test_cfg = getattr(self.module, 'test_cfg', None) or {}
        for cfg in (test_cfg.get('rcnn'), test_cfg):
            if cfg and all(k in cfg for k in TTA_CFG_KEYS):
                return cfg
        raise KeyError(f'no tta_cfg given and the test_cfg of '
                       f'{type(self.module).__name__} has no '
                       f'{"/".join(TTA_CFG_KEYS)}: set tta_cfg')

    @staticmethod
    def split_views(data: Union[dict, Sequence]) -> List[dict]:
        """A ``TestTimeAug`` batch (``inputs`` / ``data_samples`` as
        [view][image] lists) into one ordinary batch per view."""
        if isinstance(data, dict):
            lengths = {len(v) for v in data.values()}
            if len(lengths) != 1:
                raise ValueError('every key of a TTA batch needs one entry '
                                 f'per view; got lengths {sorted(lengths)}')
            num_views = lengths.pop()
            return [{
                k: v[i]
                for k, v in data.items()
            } for i in range(num_views)]
        if isinstance(data, (list, tuple)):
            return [[d[i] for d in data] for i in range(len(data[0]))]
        raise TypeError('a TTA batch is a dict, tuple or list, got '
                        f'{type(data).__name__}')

    def predict_view(self, view: Union[dict, Sequence]) -> List[DetDataSample]:
        """One view of a batch through the detector: its data samples, each
        with the raw ``pred_instances`` of ``predict_proposal_scores``
        (every proposal's ``bboxes`` and ``scores``, before NMS)."""
        data = self.module.data_preprocessor(view, False)
        if isinstance(data, dict):
            inputs, samples = data['inputs'], data['data_samples']
        else:
            inputs, samples = data
        raw = self.module.predict_proposal_scores(
            inputs, samples, rescale=True)
        for sample, instances in zip(samples, raw):
            sample.pred_instances = instances
        return samples

    def test_step(self, data: Union[dict, Sequence]) -> List[DetDataSample]:
        """Predict every view of the batch, then merge per image."""
        with torch.no_grad():
            predictions = [
                self.predict_view(view) for view in self.split_views(data)
            ]
        return self.merge_preds(list(zip(*predictions)))

    def merge_preds(
        self, data_samples_list: Sequence[Sequence[DetDataSample]]
    ) -> List[DetDataSample]:
        """Per image (outer list), its views (inner list) with raw
        ``pred_instances`` -> one data sample with the detections after
        score averaging and NMS: ``bboxes`` [K, 4], ``scores`` [K],
        ``labels`` [K]."""
        return [self._merge_single_sample(s) for s in data_samples_list]

    def _merge_single_sample(
            self, data_samples: Sequence[DetDataSample]) -> DetDataSample:
        merged = self.average_views(data_samples)
        dets = nms_instances(merged, self.tta_cfg)
        # an un-flipped view carries the metainfo and ground truth out
        out = next((s for s in data_samples if not s.metainfo.get('flip')),
                   data_samples[0])
        out.pred_instances = dets
        return out

    @staticmethod
    def average_views(data_samples: Sequence[DetDataSample]) -> InstanceData:
        """The views of one image -> ``bboxes`` (un-flipped, averaged) and
        ``scores`` [R, C] (averaged) of its proposals, before NMS."""
        if not data_samples:
            raise ValueError('no view to merge')
        where = data_samples[0].metainfo.get('img_path', 'an image')
        boxes, scores = [], []
        for i, sample in enumerate(data_samples):
            pred = sample.pred_instances
            b = get_box_tensor(pred.bboxes)
            s = pred.scores
            if s.dim() != 2 or b.dim() != 2 or len(b) != len(s) or \
                    b.shape[1] not in (4, 4 * s.shape[1]):
                raise ValueError(
                    f'{where}, view {i}: expected bboxes [R, 4] or '
                    f'[R, C * 4] and scores [R, C], got bboxes '
                    f'{list(b.shape)} and scores {list(s.shape)}')
            if sample.metainfo.get('flip', False):
                b = _unflip(b, sample.metainfo, where, i)
            boxes.append(b)
            scores.append(s)
        shapes = [tuple(b.shape) for b in boxes]
        score_shapes = [tuple(s.shape) for s in scores]
        if len(set(shapes)) > 1 or len(set(score_shapes)) > 1:
            raise ValueError(
                f'{where}: the views have different proposals (bboxes '
                f'{shapes}, scores {score_shapes}); score averaging needs '
                'the same proposals in every view, so resize and flip them '
                'with the image (ProposalBroadcaster) and filter none')
        return InstanceData(
            bboxes=torch.stack(boxes).mean(0),
            scores=torch.stack(scores).float().mean(0))

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        raise NotImplementedError(
            f'{type(self).__name__} only tests: call test_step')


def _unflip(boxes: torch.Tensor, meta: Dict, where: str,
            view: int) -> torch.Tensor:
    """Boxes of a flipped view back to the original image (``ori_shape``)."""
    direction = meta.get('flip_direction')
    if direction not in ('horizontal', 'vertical', 'diagonal'):
        raise ValueError(f'{where}, view {view}: flipped, but its '
                         f'flip_direction is {direction!r}; pack '
                         'flip_direction in the meta_keys')
    if 'ori_shape' not in meta:
        raise KeyError(f'{where}, view {view}: flipped, but its metainfo '
                       'has no ori_shape to flip the boxes back in')
    return bbox_flip(boxes, meta['ori_shape'], direction)
