from .mil_losses import MILLoss, WeightedRefineLoss, known_class_probs
from .pcl_loss import PCLLoss

__all__ = ['MILLoss', 'WeightedRefineLoss', 'PCLLoss', 'known_class_probs']
