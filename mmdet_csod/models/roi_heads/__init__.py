from .mil_roi_head import MILRoIHead

__all__ = ['MILRoIHead']
