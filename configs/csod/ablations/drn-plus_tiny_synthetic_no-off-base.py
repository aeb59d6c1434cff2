# Ours+ with pseudo boxes made from every proposal's recognition scores, as
# in the paper, also those of boxed base objects (pseudo_off_base_boxes
# off).
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(pseudo_off_base_boxes=False)
