from .mil_bbox_head import MILBBoxHead

__all__ = ['MILBBoxHead']
