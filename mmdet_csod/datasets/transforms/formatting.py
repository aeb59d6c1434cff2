"""Packing of cross-supervised samples."""
import numpy as np
import torch
from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import BaseBoxes
from mmengine.structures import InstanceData


@TRANSFORMS.register_module()
class PackCSODInputs(PackDetInputs):
    """:class:`PackDetInputs` plus the image-level labels.

    The packed ``data_samples`` (a :obj:`DetDataSample`) gains
    ``image_labels``: float32 Tensor [num_classes], multi-hot over
    ``metainfo['classes']``, and, when the data info has them (a class of
    the image may be unknown, see ``CSODCocoDataset(unlabeled=...)``),
    ``image_label_weights``: float32 Tensor [num_classes], 0 for an unknown
    class (:func:`mmdet_csod.structures.image_label_weights_of` reads them
    for a batch). ``proposals`` (InstanceData with bboxes [K, 4]
    and scores [K]) are packed as mmdet does, whether the resize/flip
    wrappers left them as an array or as boxes.

    Args:
        require_image_labels (bool): Raise, naming the image, when a sample
            has no ``image_labels`` (the dataset is not a CSOD dataset).
            Defaults to True.
        require_proposals (bool): Raise, naming the image, when a sample has
            no proposals. Defaults to False.
    """

    def __init__(self,
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                            'scale_factor', 'flip', 'flip_direction'),
                 require_image_labels: bool = True,
                 require_proposals: bool = False) -> None:
        super().__init__(meta_keys=meta_keys)
        self.require_image_labels = require_image_labels
        self.require_proposals = require_proposals

    def transform(self, results: dict) -> dict:
        where = results.get('img_path', '<unknown image>')
        proposals = results.get('proposals')
        if proposals is None and self.require_proposals:
            raise KeyError(f'{where}: sample has no proposals; set '
                           'proposal_file on the dataset and add '
                           'LoadProposals to the pipeline')
        if isinstance(proposals, BaseBoxes):
            results['proposals'] = proposals.tensor
        if proposals is not None and 'proposals_scores' not in results:
            results['proposals_scores'] = np.zeros(len(proposals), np.float32)
        packed = super().transform(results)
        if 'image_labels' in results:
            packed['data_samples'].image_labels = torch.as_tensor(
                np.asarray(results['image_labels']), dtype=torch.float32)
        elif self.require_image_labels:
            raise KeyError(f'{where}: sample has no image_labels; build the '
                           'dataset with CSODCocoDataset')
        if 'image_label_weights' in results:
            weights = torch.as_tensor(
                np.asarray(results['image_label_weights']),
                dtype=torch.float32)
            labels = packed['data_samples'].get('image_labels')
            if labels is None or weights.shape != labels.shape:
                raise ValueError(
                    f'{where}: image_label_weights {tuple(weights.shape)} '
                    'do not match image_labels '
                    f'{None if labels is None else tuple(labels.shape)}')
            packed['data_samples'].image_label_weights = weights
        if isinstance(packed['data_samples'].get('proposals'), InstanceData):
            props = packed['data_samples'].proposals
            props.bboxes = props.bboxes.float()
        return packed

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(meta_keys={self.meta_keys}, '
                f'require_image_labels={self.require_image_labels}, '
                f'require_proposals={self.require_proposals})')
