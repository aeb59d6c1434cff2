from .csod_coco import SUPERVISION_MODES, CSODCocoDataset
from .proposals import (clean_proposals, load_proposal_file, proposal_key,
                        save_proposals)
from .transforms import PackCSODInputs

__all__ = [
    'CSODCocoDataset', 'SUPERVISION_MODES', 'PackCSODInputs', 'save_proposals',
    'load_proposal_file', 'proposal_key', 'clean_proposals'
]
