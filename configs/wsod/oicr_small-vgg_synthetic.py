# OICR (WSDDN + 3 refinement branches, as _base_/models/wsod_vgg16.py) on
# the generated dataset from image labels of every class (weak-only
# supervision), small CPU backbone (_base_/models/wsod_small_vgg.py).
_base_ = [
    '../_base_/models/wsod_small_vgg.py',
    '../_base_/datasets/synthetic_csod.py',
    '../_base_/schedules/schedule_tiny.py', '../_base_/default_runtime.py'
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=10)))
train_dataloader = dict(dataset=dict(supervision='weak'))
