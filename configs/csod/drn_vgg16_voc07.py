# Ours (DRN with the SCM) on VOC07 trainval -> test, 10 base + 10 novel
# classes, VGG16, Selective Search proposals; the paper's settings
# (lambda_rec 1, lambda_det 10, lambda_scm 10; 20 epochs; no pseudo ground
# truth for the first 9).
_base_ = [
    '../_base_/models/drn_vgg16.py', '../_base_/datasets/voc07_csod.py',
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
