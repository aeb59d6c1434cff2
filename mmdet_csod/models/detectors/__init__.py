from .weak_rcnn import WeakRCNN

__all__ = ['WeakRCNN']
