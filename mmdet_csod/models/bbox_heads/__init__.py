from .mil_bbox_head import MILBBoxHead
from .objectness_head import ObjectnessHead

__all__ = ['MILBBoxHead', 'ObjectnessHead']
