from .registered_layer_roi_extractor import RegisteredLayerRoIExtractor

__all__ = ['RegisteredLayerRoIExtractor']
