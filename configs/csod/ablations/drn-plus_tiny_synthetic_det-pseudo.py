# Ours+ with self-training (experiment): from the third epoch on, the novel
# classes' pseudo boxes are the detection head's own detections
# (det_pseudo_boxes; a class it does not detect keeps the SCM's box), after
# it has learnt one epoch from the SCM's.
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(det_pseudo_boxes=True)
custom_hooks = [
    dict(_base_.custom_hooks[0], det_start_epoch=2),
    *_base_.custom_hooks[1:]
]
