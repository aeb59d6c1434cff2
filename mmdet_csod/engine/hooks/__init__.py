from .drn_diagnostics_hook import DRNDiagnosticsHook
from .pseudo_gt_switch_hook import PseudoGTSwitchHook

__all__ = ['DRNDiagnosticsHook', 'PseudoGTSwitchHook']
