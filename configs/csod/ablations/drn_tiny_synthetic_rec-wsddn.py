# Table 3c: WSDDN as the recognition head (no refinement branch).
_base_ = '../drn_tiny_synthetic.py'
model = dict(rec_head=dict(bbox_head=dict(num_refine=0)))
