"""Ground floor: helpers shared by models, datasets and evaluation.

Nothing here imports another ``mmdet_csod`` subpackage, so every part of the
project can use these without an upward import.
"""
from .bbox_nms import nms_instances
from .class_split import complete_class_split
from .image_labels import image_label_weights_of, image_labels_of

__all__ = [
    'complete_class_split', 'image_label_weights_of', 'image_labels_of',
    'nms_instances'
]
