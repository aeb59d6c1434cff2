"""Image-level labels of a batch of data samples, and which are known."""
from typing import Optional

import torch
from mmdet.structures import SampleList
from torch import Tensor


def image_labels_of(batch_data_samples: SampleList) -> Tensor:
    """[B, C] image labels of a batch; an error names a sample without."""
    labels = []
    for sample in batch_data_samples:
        if 'image_labels' not in sample:
            raise KeyError(
                f'{sample.metainfo.get("img_path", "a sample")} has no '
                'image_labels: pack samples with PackCSODInputs from a '
                'CSODCocoDataset')
        labels.append(sample.image_labels)
    return torch.stack(labels).float()


def image_label_weights_of(batch_data_samples: SampleList) -> Optional[Tensor]:
    """[B, C] weights of the image labels of a batch, or None.

    ``image_label_weights`` of a sample (float [C], packed by
    ``PackCSODInputs`` from a ``CSODCocoDataset`` with
    ``unlabeled='ignore'``) is 1 for a class known in the image (present,
    or absent) and 0 for an unknown one, which the image-level loss and
    the refinement losses then leave out. A sample without it knows every
    class (ones). None when no sample of the batch has one: every class of
    every image is known, and the losses run exactly as without weights.

    Raises:
        ValueError: naming the sample, when its weights do not have the
            shape of its ``image_labels``.
    """
    if not any('image_label_weights' in s for s in batch_data_samples):
        return None
    labels = image_labels_of(batch_data_samples)
    weights = torch.ones_like(labels)
    for i, sample in enumerate(batch_data_samples):
        w = sample.get('image_label_weights')
        if w is None:
            continue
        if w.shape != labels[i].shape:
            raise ValueError(
                f'{sample.metainfo.get("img_path", "a sample")}: '
                f'image_label_weights {tuple(w.shape)} do not match '
                f'image_labels {tuple(labels[i].shape)}')
        weights[i] = w
    return weights
