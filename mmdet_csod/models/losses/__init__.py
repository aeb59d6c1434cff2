from .mil_losses import MILLoss, WeightedRefineLoss

__all__ = ['MILLoss', 'WeightedRefineLoss']
