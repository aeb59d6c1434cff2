"""The spatial correlation module (SCM), its inputs and its detectors."""
from .context_heatmap_inputs import ContextHeatmapInputs, context_selection
from .extent_fcos_head import ExtentFCOSHead
from .fc_regressor import ProposalFCRegressor
from .heatmap_fcos import HeatmapFCOS
from .neighbour_composition import NeighbourComposition
from .scale_composition import ScaleComposition
from .scm_feature_inputs import (HeatmapFeatureInputs, HeatmapImageInputs,
                                 QueryHeatmapsWithFeats,
                                 features_on_heatmap_grid)
from .scm_inputs import (BaseSCMInputs, BoxInputs, HeatmapInputs, QueryBatch,
                         QueryBoxes, QueryHeatmaps)
from .spatial_correlation import SpatialCorrelationModule

__all__ = [
    'HeatmapFCOS', 'ExtentFCOSHead', 'ProposalFCRegressor',
    'SpatialCorrelationModule', 'NeighbourComposition', 'ScaleComposition',
    'BaseSCMInputs', 'BoxInputs', 'HeatmapInputs', 'QueryBatch', 'QueryBoxes',
    'QueryHeatmaps', 'HeatmapFeatureInputs', 'HeatmapImageInputs',
    'QueryHeatmapsWithFeats', 'ContextHeatmapInputs', 'context_selection',
    'features_on_heatmap_grid'
]
