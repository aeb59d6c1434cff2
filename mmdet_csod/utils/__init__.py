from .checkpoint import (install_safe_checkpoint_support,
                         load_trusted_checkpoint, safe_globals)

__all__ = [
    'install_safe_checkpoint_support', 'load_trusted_checkpoint',
    'safe_globals'
]
