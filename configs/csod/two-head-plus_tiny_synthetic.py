# Two Head+: as Two Head, but the recognition head learns the image labels
# of base and novel classes.
_base_ = './two-head_tiny_synthetic.py'
model = dict(rec_classes='all', rec_head=dict(bbox_head=dict(num_classes=10)))
