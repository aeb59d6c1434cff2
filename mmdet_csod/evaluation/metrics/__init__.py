from .corloc_metric import CorLocMetric
from .split_coco_metric import SplitCocoMetric
from .split_voc_metric import SplitVOCMetric

__all__ = ['CorLocMetric', 'SplitCocoMetric', 'SplitVOCMetric']
