# Runtime shared by every config of the project.
default_scope = 'mmdet'
# Registers mmdet_csod's modules into mmdet's registries (the projects/
# convention), so mmdet's own tools/train.py runs these configs too.
custom_imports = dict(imports=['mmdet_csod'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # by epoch; checkpoints by iteration (by_epoch=False, interval=N) let
    # a killed job resume mid-epoch (ResumableEpochBasedTrainLoop)
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # random states in checkpoints: --resume trains on as if never stopped
    random_state=dict(type='RandomStateHook'),
    visualization=dict(type='DetVisualizationHook'),
    # checks before the first iteration (mmdet_csod.engine.hooks). Here, not
    # in custom_hooks: configs replace that list, but merge into this dict.
    # One class split: the model's and every dataset's must agree.
    class_split_check=dict(type='ClassSplitCheckHook'),
    # load_from / --resume must fit the model (load_from_partial=True: what
    # fits is loaded, the rest left as initialised)
    checkpoint_fit=dict(type='CheckpointFitHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)

log_level = 'INFO'
load_from = None
load_from_partial = False
resume = False
randomness = dict(seed=0)
