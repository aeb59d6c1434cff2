from .small_vgg import SmallVGG

__all__ = ['SmallVGG']
