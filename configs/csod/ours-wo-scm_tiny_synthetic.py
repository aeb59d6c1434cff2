# Ours w/o SCM: Two Head plus the recognition head's top-scoring box of
# every novel class in the image as the detection head's pseudo ground truth.
_base_ = './drn_tiny_synthetic.py'
model = dict(
    scm=None,
    pseudo_gt='rec',
    rec_classes='novel',
    rec_head=dict(bbox_head=dict(num_classes=5)))
