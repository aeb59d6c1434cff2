from .heatmap import synthesize_heatmap
from .pcl_clusters import top_score_cluster
from .pseudo_labels import oicr_pseudo_labels

__all__ = ['oicr_pseudo_labels', 'synthesize_heatmap', 'top_score_cluster']
