# Table 3c: OICR's full recognition head (3 refinement branches; the
# default, the paper's lighter head, has 2 here).
_base_ = '../drn_tiny_synthetic.py'
model = dict(rec_head=dict(bbox_head=dict(num_refine=3)))
