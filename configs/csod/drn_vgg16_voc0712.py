# Ours on VOC07+12 trainval -> VOC07 test (10 + 10), the paper's settings.
_base_ = [
    '../_base_/models/drn_vgg16.py', '../_base_/datasets/voc0712_csod.py',
    '../_base_/schedules/schedule_drn_voc_20e.py',
    '../_base_/default_runtime.py'
]
model = dict(class_split={{_base_.metainfo}})
train_dataloader = dict(batch_size=2)
custom_hooks = [dict(type='PseudoGTSwitchHook', start_epoch=9)]
load_from = 'checkpoints/vgg16_imagenet_torchvision_drn.pth'
# ImageNet weights: the backbone and fc6/fc7 only, the heads start as
# initialised (load_from must otherwise fit the model: CheckpointFitHook)
load_from_partial = True
