# Fast R-CNN with the small backbone on the generated dataset, trained on
# boxes of all ten classes (full supervision): Table 1's upper bound for
# the cross-supervised methods.
_base_ = './fast_rcnn_small-vgg_synthetic-base.py'
train_dataloader = dict(dataset=dict(supervision='full'))
