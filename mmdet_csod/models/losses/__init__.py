from .mil_losses import MILLoss, WeightedRefineLoss
from .pcl_loss import PCLLoss

__all__ = ['MILLoss', 'WeightedRefineLoss', 'PCLLoss']
