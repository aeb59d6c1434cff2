# Two Branch: as Two Head, but the detection head has its own RoI pooling
# and two fc layers instead of sharing the recognition head's.
_base_ = './two-head_tiny_synthetic.py'
model = dict(
    share_roi_features=False,
    roi_head=dict(
        bbox_roi_extractor={{_base_.small_vgg_roi_extractor}},
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=128,
            fc_out_channels=512,
            roi_feat_size=7)))
