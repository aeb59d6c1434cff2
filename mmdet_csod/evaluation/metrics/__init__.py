from .split_voc_metric import SplitVOCMetric

__all__ = ['SplitVOCMetric']
