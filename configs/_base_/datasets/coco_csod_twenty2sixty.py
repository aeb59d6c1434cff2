# COCO split twenty -> sixty (section 5.2 of the paper, after Hu et al. 2018):
# the first 20 COCO categories are base.
_base_ = './coco_csod.py'

first_twenty = ('person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus',
                'train', 'truck', 'boat', 'traffic light', 'fire hydrant',
                'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
                'horse', 'sheep', 'cow')
split = dict(base_classes=first_twenty)
train_dataloader = dict(dataset=dict(metainfo=split))
val_dataloader = dict(dataset=dict(metainfo=split))
test_dataloader = dict(dataset=dict(metainfo=split))
