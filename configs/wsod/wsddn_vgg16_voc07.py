# WSDDN (Bilen & Vedaldi 2016) on VGG16 in the same framework: no refinement
# branch, proposal scores are WSDDN's x_R. Same schedule as OICR.
_base_ = './oicr_vgg16_voc07.py'
model = dict(roi_head=dict(bbox_head=dict(num_refine=0)))
