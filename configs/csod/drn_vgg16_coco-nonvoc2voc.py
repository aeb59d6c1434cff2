# Ours on COCO train2017 -> val2017, split 'nonvoc -> voc' (section 5.2),
# VGG16, 13 epochs, no pseudo ground truth for the first 5.
_base_ = [
    '../_base_/models/drn_vgg16.py',
    '../_base_/datasets/coco_csod_nonvoc2voc.py',
    '../_base_/schedules/schedule_drn_coco_13e.py',
    '../_base_/default_runtime.py'
]
num_classes = 80
model = dict(
    class_split={{_base_.train_dataloader.dataset.metainfo}},
    rec_head=dict(bbox_head=dict(num_classes=num_classes)),
    roi_head=dict(bbox_head=dict(num_classes=num_classes)))
train_dataloader = dict(batch_size=2)
custom_hooks = [dict(type='PseudoGTSwitchHook', start_epoch=5)]
load_from = 'checkpoints/vgg16_imagenet_torchvision_drn.pth'
# ImageNet weights: the backbone and fc6/fc7 only, the heads start as
# initialised (load_from must otherwise fit the model: CheckpointFitHook)
load_from_partial = True
