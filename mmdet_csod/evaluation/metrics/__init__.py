from .corloc_metric import CorLocMetric
from .split_voc_metric import SplitVOCMetric

__all__ = ['CorLocMetric', 'SplitVOCMetric']
