# Ours: the DRN with the SCM on the generated dataset (CPU, minutes).
# Pseudo boxes for novel classes start after the first epoch (the paper
# holds them back for 9 of 20 epochs on VOC).
_base_ = [
    '../_base_/models/drn_small_vgg.py',
    '../_base_/datasets/synthetic_csod.py',
    '../_base_/schedules/schedule_tiny.py', '../_base_/default_runtime.py'
]
model = dict(class_split={{_base_.metainfo}})
# the stage figures (tools/analysis_tools/diagnose_drn.py) on the first 48
# training images after every epoch, into the work dir's scalars
custom_hooks = [
    dict(type='PseudoGTSwitchHook', start_epoch=1),
    dict(type='DRNDiagnosticsHook', interval=1, num_images=48)
]
