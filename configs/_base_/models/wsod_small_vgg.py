# The weakly supervised detector of ./wsod_vgg16.py (WSDDN + OICR's
# refinement branches, PCL by its configs) with the small CPU backbone, as a
# delta on it: the SmallVGG backbone and RoI extractor of ./small_vgg.py
# (RoIAlign on its stride-8 map), two fc layers of 512 and a score threshold
# of 1e-3 at test. Everything else (heads, pseudo labels, losses, NMS) comes
# from the VGG16 model. num_classes is set by each config.
_base_ = ['./wsod_vgg16.py', './small_vgg.py']
model = dict(
    # the same keys as the VGG16 preprocessor: the merge keeps none of its
    # values (pad_size_divisor 8, not 16)
    data_preprocessor={{_base_.small_vgg_data_preprocessor}},
    # replaced, not merged: WSODVGG16's dilate_conv5 / frozen_stages are no
    # SmallVGG arguments
    backbone=dict(
        _delete_=True,
        type={{_base_.small_vgg_backbone.type}},
        init_cfg={{_base_.small_vgg_backbone.init_cfg}}),
    roi_head=dict(
        # RoIAlign's keys are a superset of RoIPool's: the merge gives
        # exactly small_vgg_roi_extractor (the test pins it)
        bbox_roi_extractor={{_base_.small_vgg_roi_extractor}},
        fc_out_channels=512,
        bbox_head=dict(in_channels=512, num_classes=None)),
    test_cfg=dict(rcnn=dict(score_thr=1e-3)))
