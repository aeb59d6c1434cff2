from .mil_losses import MILLoss, WeightedRefineLoss
from .pcl_loss import PCLLoss
from .unknown_classes import (merge_unknown_logits, merge_unknown_probs,
                              unknown_rows)

__all__ = [
    'MILLoss', 'WeightedRefineLoss', 'PCLLoss', 'merge_unknown_probs',
    'merge_unknown_logits', 'unknown_rows'
]
