"""Image-level labels of a batch of data samples."""
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
