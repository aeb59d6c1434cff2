from .formatting import PackCSODInputs

__all__ = ['PackCSODInputs']
