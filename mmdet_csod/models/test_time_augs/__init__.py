from .score_avg_tta import ScoreAveragingTTAModel

__all__ = ['ScoreAveragingTTAModel']
