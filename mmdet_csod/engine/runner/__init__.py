from .loops import ResumableEpochBasedTrainLoop, SkippableBatchSampler

__all__ = ['ResumableEpochBasedTrainLoop', 'SkippableBatchSampler']
