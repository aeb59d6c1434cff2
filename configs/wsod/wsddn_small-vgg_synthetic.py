# WSDDN (no refinement branch) on the generated dataset, weak-only.
_base_ = './oicr_small-vgg_synthetic.py'
model = dict(roi_head=dict(bbox_head=dict(num_refine=0)))
