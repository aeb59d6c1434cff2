"""The SCM's fully-connected baseline: the top proposals in, one box out."""
from typing import Dict, List, Tuple

import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps
from mmdet.utils import InstanceList
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor, nn

from .heatmap_fcos import zero_losses
from .scm_inputs import QueryBoxes


@MODELS.register_module()
class ProposalFCRegressor(BaseModule):
    """Regress the ground-truth box from a query's top-k selected proposals.

    The CSOD paper's baseline for the heatmap detector (Table 3b, "Fc
    layer"): ``num_fcs`` fully-connected layers (ReLU between them) map
    the top ``topk`` input boxes (the SCM's selected proposals) of a
    query, each as
    ``(x1 / w, y1 / h, x2 / w, y2 / h, score / top score)`` (``(h, w)`` the
    heatmap size, zero rows when fewer than ``topk`` boxes), flattened to
    ``5 * topk`` values, to 4 numbers: the offset of the box from the top
    input box, in the same normalized coordinates. The output layer starts
    at zero, so an untrained regressor returns the top input box (the OICR
    pseudo box).

    Training target of a query: among its ground-truth boxes, the one with
    the highest IoU with the top-scoring input box. Queries without ground
    truth or without input boxes are left out. ``loss_bbox`` is applied to
    the normalized boxes (smooth L1 by default; an IoU-type loss such as
    ``GIoULoss`` works too since it is scale invariant).

    Interface shared with :class:`HeatmapFCOS` (see
    :class:`SpatialCorrelationModule`), with boxes in place of heatmaps:
    ``loss(batch_boxes, batch_gt_instances, batch_img_metas)`` and
    ``predict(batch_boxes, batch_img_metas)``; it takes the SCM's
    :class:`QueryBoxes` (``input_type``), by default from ``BoxInputs``
    (``default_inputs``): no heatmap is painted.

    Args:
        topk (int): Input boxes per query.
        num_fcs (int): Fully-connected layers (the paper: 3; Table 3b
            compares 2 to 4).
        hidden_channels (int): Width of the hidden layers.
        loss_bbox (dict): Box loss on normalized x1, y1, x2, y2.
        init_cfg (dict): Xavier hidden layers, zero output layer.
    """

    input_type = QueryBoxes
    default_inputs = dict(type='BoxInputs')

    def __init__(self,
                 topk: int = 10,
                 num_fcs: int = 3,
                 hidden_channels: int = 256,
                 loss_bbox: dict = dict(
                     type='SmoothL1Loss', beta=0.05, loss_weight=1.0),
                 init_cfg=dict(
                     type='Xavier',
                     layer='Linear',
                     override=dict(
                         type='Constant', name='fc_out', val=0., bias=0.))):
        super().__init__(init_cfg=init_cfg)
        if num_fcs < 1 or topk < 1:
            raise ValueError(f'num_fcs and topk must be >= 1, got {num_fcs} '
                             f'and {topk}')
        self.topk = topk
        self.num_fcs = num_fcs
        layers = []
        channels = 5 * topk
        for _ in range(num_fcs - 1):
            layers += [nn.Linear(channels, hidden_channels), nn.ReLU()]
            channels = hidden_channels
        self.fcs = nn.Sequential(*layers)
        self.fc_out = nn.Linear(channels, 4)
        nn.init.zeros_(self.fc_out.weight)
        nn.init.zeros_(self.fc_out.bias)
        self.loss_bbox = MODELS.build(loss_bbox)

    def _encode(self, batch_boxes: InstanceList,
                batch_img_metas: List[dict]) -> Tuple[Tensor, Tensor, Tensor]:
        """Normalized inputs of the queries that have input boxes.

        Returns:
            tuple: ``inputs`` [V, 5 * topk], ``tops`` [V, 4] (normalized top
            boxes) and ``valid`` [Q] bool (V = valid.sum()).
        """
        param = self.fc_out.weight
        valid = torch.tensor([len(b) > 0 for b in batch_boxes],
                             dtype=torch.bool)
        inputs = param.new_zeros((len(batch_boxes), self.topk, 5))
        for q, (boxes, meta) in enumerate(zip(batch_boxes, batch_img_metas)):
            if not valid[q]:
                continue
            h, w = meta['img_shape'][:2]
            order = boxes.scores.argsort(descending=True)[:self.topk]
            scale = param.new_tensor([w, h, w, h])
            s = boxes.scores[order].to(param)
            inputs[q, :len(order), :4] = boxes.bboxes[order].to(param) / scale
            inputs[q, :len(order), 4] = s / s[0].clamp(min=1e-12)
        valid = valid.to(param.device)
        inputs = inputs[valid]
        return inputs.flatten(1), inputs[:, 0, :4], valid

    def forward(self, inputs: Tensor, tops: Tensor) -> Tensor:
        """[V, 4] normalized boxes: the top boxes plus the regressed
        offsets."""
        return tops + self.fc_out(self.fcs(inputs))

    def loss(self, batch_boxes: InstanceList,
             batch_gt_instances: InstanceList,
             batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Box regression loss.

        Args:
            batch_boxes (list[InstanceData]): Q items, the selected boxes
                ``bboxes`` [n_q, 4] (heatmap pixels) and ``scores`` [n_q].
            batch_gt_instances (list[InstanceData]): Q items, ``bboxes``
                [K_q, 4] in heatmap pixels.
            batch_img_metas (list[dict]): Q items with ``img_shape`` (h, w)
                of the heatmap, the normalization.

        Returns:
            dict: ``loss_bbox``; zero (depending on the parameters) when no
            query has both input boxes and ground truth.
        """
        if batch_boxes is None or isinstance(batch_boxes, Tensor):
            raise TypeError('ProposalFCRegressor takes the queries\' boxes '
                            '(QueryBoxes.boxes, from BoxInputs), got '
                            f'{type(batch_boxes).__name__}')
        keep = [
            q for q in range(len(batch_boxes))
            if len(batch_boxes[q]) > 0 and len(batch_gt_instances[q]) > 0
        ]
        if not keep:
            return zero_losses(self, ('loss_bbox', ))
        boxes = [batch_boxes[q] for q in keep]
        metas = [batch_img_metas[q] for q in keep]
        inputs, tops, _ = self._encode(boxes, metas)
        preds = self(inputs, tops)
        targets = []
        for q, meta in zip(keep, metas):
            h, w = meta['img_shape'][:2]
            gts = batch_gt_instances[q].bboxes.to(tops)
            top = batch_boxes[q].bboxes[batch_boxes[q].scores.argmax()]
            best = bbox_overlaps(top.to(gts)[None], gts)[0].argmax()
            targets.append(gts[best] / gts.new_tensor([w, h, w, h]))
        return dict(loss_bbox=self.loss_bbox(preds, torch.stack(targets)))

    @torch.no_grad()
    def predict(self, batch_boxes: InstanceList,
                batch_img_metas: List[dict]) -> InstanceList:
        """One regressed box per query that has input boxes.

        Args:
            batch_boxes (list[InstanceData]): Q items, ``bboxes`` [n_q, 4]
                (heatmap pixels) and ``scores`` [n_q].
            batch_img_metas (list[dict]): Q items with ``img_shape`` (h, w).

        Returns:
            list[InstanceData]: Q items with ``bboxes`` [1, 4] in heatmap
            pixels (clipped to it), ``scores`` [1] (the top input score,
            the regressor has no confidence of its own) and ``labels`` [1]
            (0); empty for a query without input boxes.
        """
        if batch_boxes is None or isinstance(batch_boxes, Tensor):
            raise TypeError('ProposalFCRegressor takes the queries\' boxes '
                            '(QueryBoxes.boxes, from BoxInputs), got '
                            f'{type(batch_boxes).__name__}')
        if len(batch_boxes) == 0:
            return []
        inputs, tops, valid = self._encode(batch_boxes, batch_img_metas)
        preds = self(inputs, tops) if len(inputs) else tops
        results, v = [], 0
        param = self.fc_out.weight
        for q, meta in enumerate(batch_img_metas):
            res = InstanceData()
            if not valid[q]:
                res.bboxes = param.new_zeros((0, 4))
                res.scores = param.new_zeros((0, ))
                res.labels = torch.zeros((0, ),
                                         dtype=torch.long,
                                         device=param.device)
                results.append(res)
                continue
            h, w = meta['img_shape'][:2]
            box = preds[v] * preds.new_tensor([w, h, w, h])
            v += 1
            box[0::2] = box[0::2].clamp(0, w).sort().values
            box[1::2] = box[1::2].clamp(0, h).sort().values
            res.bboxes = box[None]
            res.scores = batch_boxes[q].scores.max().to(param)[None]
            res.labels = torch.zeros((1, ),
                                     dtype=torch.long,
                                     device=param.device)
            results.append(res)
        return results
