from .refine_targets import (BaseRefineTargets, ClusterTargets, OICRTargets,
                             PCLTargets, ProposalTargets)

__all__ = [
    'BaseRefineTargets', 'OICRTargets', 'PCLTargets', 'ProposalTargets',
    'ClusterTargets'
]
