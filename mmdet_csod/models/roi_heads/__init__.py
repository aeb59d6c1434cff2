from .mil_roi_head import MILRoIHead
from .roi_extractors import RegisteredLayerRoIExtractor
from .shared_feature_roi_head import SharedFeatureRoIHead

__all__ = ['MILRoIHead', 'RegisteredLayerRoIExtractor', 'SharedFeatureRoIHead']
