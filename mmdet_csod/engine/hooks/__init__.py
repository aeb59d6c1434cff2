from .pseudo_gt_switch_hook import PseudoGTSwitchHook

__all__ = ['PseudoGTSwitchHook']
