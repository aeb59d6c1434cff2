from .checked_loading import (BadImageError, BadImageLimitError,
                              LoadImageFromFileChecked, read_image)
from .formatting import PackCSODInputs
from .loading import LoadOrComputeProposals

__all__ = ['PackCSODInputs', 'LoadOrComputeProposals']
__all__ += [
    'BadImageError', 'BadImageLimitError', 'LoadImageFromFileChecked',
    'read_image'
]
