from .csod_coco import (SUPERVISION_MODES, CSODCocoDataset,
                        complete_class_split)
from .proposals import (clean_proposals, load_proposal_file, proposal_key,
                        save_proposals)
from .transforms import PackCSODInputs

__all__ = [
    'CSODCocoDataset', 'SUPERVISION_MODES', 'complete_class_split',
    'PackCSODInputs', 'save_proposals', 'load_proposal_file', 'proposal_key',
    'clean_proposals'
]
