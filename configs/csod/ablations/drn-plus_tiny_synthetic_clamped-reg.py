# Ours+ with mmdet's norm_on_bbox regression (ReLU-clamped distances in
# stride units) in the SCM's FCOS, as in Ours; the gate stays.
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(scm=dict(detector=dict(head=dict(norm_on_bbox=True))))
