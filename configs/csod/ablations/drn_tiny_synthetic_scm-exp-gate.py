# The previous round's Ours+, measured below Ours (README): the SCM's FCOS
# regresses exp(distance) instead of mmdet's norm_on_bbox ReLU clamp, and the
# scm_gate hands the detection head the SCM's pseudo boxes only while, on the
# training batches' base classes, they beat the recognition head's top box.
_base_ = '../drn_tiny_synthetic.py'
model = dict(
    scm=dict(detector=dict(head=dict(norm_on_bbox=False))),
    scm_gate=dict(momentum=0.9))
