# Ours+ (beyond the paper): the DRN of drn_tiny_synthetic.py with two
# changes to the SCM, measured in the README's "Ours+" section; each has
# its ablation row (configs/csod/ablations/drn-plus_tiny_synthetic_*.py):
# - the SCM's FCOS regresses exp(distance), as FCOS itself does, instead of
#   mmdet's norm_on_bbox ReLU clamp: a clamped side has no gradient and the
#   heatmap detector could stay stuck on degenerate boxes (GIoU loss 1.0);
# - scm_gate: the SCM's pseudo boxes are used only while, on the training
#   batches' base classes (where the boxes are known), they beat the
#   recognition head's top box; else the top box (the SCM earns its place).
_base_ = './drn_tiny_synthetic.py'
model = dict(
    scm=dict(detector=dict(head=dict(norm_on_bbox=False))),
    scm_gate=dict(momentum=0.9))
