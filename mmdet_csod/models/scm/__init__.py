"""The spatial correlation module (SCM), its inputs and its detectors."""
from .fc_regressor import ProposalFCRegressor
from .heatmap_fcos import HeatmapFCOS
from .scm_inputs import (BaseSCMInputs, BoxInputs, HeatmapInputs, QueryBatch,
                         QueryBoxes, QueryHeatmaps)
from .spatial_correlation import SpatialCorrelationModule

__all__ = [
    'HeatmapFCOS', 'ProposalFCRegressor', 'SpatialCorrelationModule',
    'BaseSCMInputs', 'BoxInputs', 'HeatmapInputs', 'QueryBatch', 'QueryBoxes',
    'QueryHeatmaps'
]
