from .drn import DRN
from .weak_rcnn import WeakRCNN

__all__ = ['DRN', 'WeakRCNN']
