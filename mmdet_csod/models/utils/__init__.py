from .heatmap import synthesize_heatmap
from .pseudo_labels import oicr_pseudo_labels

__all__ = ['oicr_pseudo_labels', 'synthesize_heatmap']
