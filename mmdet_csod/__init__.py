"""mmdet-csod: cross-supervised object detection on MMDetection 3.x.

Importing the package registers its datasets, transforms and models into
mmdet's registries (configs load it with ``custom_imports``), makes the
project's checkpoints loadable with torch's safe loader, and makes a
checkpoint mmengine cannot load (refused by the safe loader, truncated, not a
checkpoint) an error that names the file and why
(:mod:`mmdet_csod.utils.checkpoint`).
"""
from .utils.checkpoint import install_safe_checkpoint_support

install_safe_checkpoint_support()

from . import datasets, engine, evaluation, models  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'datasets', 'models']
