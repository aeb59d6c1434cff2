# Two Head: detection head on base boxes and recognition head on novel image
# labels, shared backbone and fc layers, no supervision between the heads;
# novel detections come from the recognition head.
_base_ = './drn_tiny_synthetic.py'
model = dict(
    scm=None,
    pseudo_gt='none',
    rec_classes='novel',
    novel_from='rec',
    rec_head=dict(bbox_head=dict(num_classes=5)))
custom_hooks = []
