from .mil_roi_head import MILRoIHead
from .shared_feature_roi_head import SharedFeatureRoIHead

__all__ = ['MILRoIHead', 'SharedFeatureRoIHead']
