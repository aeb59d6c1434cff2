"""The spatial correlation module (SCM) and its heatmap detectors."""
from .fc_regressor import HeatmapFCRegressor
from .heatmap_fcos import HeatmapFCOS
from .spatial_correlation import SpatialCorrelationModule

__all__ = ['HeatmapFCOS', 'HeatmapFCRegressor', 'SpatialCorrelationModule']
