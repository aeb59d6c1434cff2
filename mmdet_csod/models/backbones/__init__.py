from .small_vgg import SmallVGG
from .wsod_vgg16 import WSODVGG16

__all__ = ['SmallVGG', 'WSODVGG16']
