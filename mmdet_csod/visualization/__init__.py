"""Pictures of what a cross-supervised detector sees (headless)."""
from .drn_figure import draw_drn_figure, drn_outputs

__all__ = ['draw_drn_figure', 'drn_outputs']
