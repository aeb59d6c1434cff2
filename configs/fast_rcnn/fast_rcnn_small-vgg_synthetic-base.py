# Fast R-CNN with the small backbone on the generated dataset, trained on
# base-class boxes only (the cross-supervised training set). Novel classes
# get no supervision: their AP is what CSOD has to add. The CPU demo.
_base_ = [
    '../_base_/models/fast_rcnn_small_vgg.py',
    '../_base_/datasets/synthetic_csod.py',
    '../_base_/schedules/schedule_tiny.py', '../_base_/default_runtime.py'
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=10)))
