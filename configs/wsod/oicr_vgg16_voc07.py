# OICR (Tang et al. 2017) on VOC07 trainval -> test: WSDDN + 3 refinement
# branches, image labels of all 20 classes (weak-only).
_base_ = [
    '../_base_/models/wsod_vgg16.py', '../_base_/datasets/voc07_csod.py',
    '../_base_/schedules/schedule_wsod_70k.py', '../_base_/default_runtime.py'
]
train_dataloader = dict(
    batch_size=2,
    sampler=dict(type='InfiniteSampler'),
    dataset=dict(supervision='weak'))
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000))
log_processor = dict(by_epoch=False)
# ImageNet VGG16 (backbone + fc6/fc7), converted by
# tools/model_converters/vgg16_to_mmdet.py --format torchvision
load_from = 'checkpoints/vgg16_imagenet_torchvision_mmdet.pth'
# ImageNet weights: the backbone and fc6/fc7 only, the heads start as
# initialised (load_from must otherwise fit the model: CheckpointFitHook)
load_from_partial = True
