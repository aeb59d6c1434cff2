# Fast R-CNN on precomputed proposals with the small CPU backbone: the
# detection head of the DRN on its own, with its own two fc layers of 512
# on the SmallVGG RoI features (./small_vgg.py). Box coding, losses, the
# rcnn assigner / sampler and test settings: ./rcnn_settings.py, shared with
# the DRN. num_classes is set by each config.
_base_ = ['./rcnn_settings.py', './small_vgg.py']
model = dict(
    type='FastRCNN',
    data_preprocessor={{_base_.small_vgg_data_preprocessor}},
    backbone={{_base_.small_vgg_backbone}},
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor={{_base_.small_vgg_roi_extractor}},
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=128,
            fc_out_channels=512,
            roi_feat_size=7,
            num_classes=None)))
