# The DRN on VGG16 as in the paper: conv5_3 (stride 16), RoI pooling 7x7,
# VGG16's fc6 and fc7 shared by the recognition head (OICR with a lighter
# refinement: 1 branch) and the Faster R-CNN detection head; the SCM on
# heatmaps at 1/4 of the input resolution. ImageNet weights:
# tools/model_converters/vgg16_to_mmdet.py --fc-prefix rec_head.shared_fcs
_base_ = './drn_small_vgg.py'
num_classes = 20
model = dict(
    data_preprocessor=dict(pad_size_divisor=16),
    backbone=dict(
        _delete_=True, type='WSODVGG16', dilate_conv5=False, frozen_stages=2),
    rec_head=dict(
        bbox_roi_extractor=dict(
            # mmcv's RoIPool runs on GPUs only; RoIAlign on CPUs too
            roi_layer=dict(_delete_=True, type='RoIPool', output_size=7),
            out_channels=512,
            featmap_strides=[16]),
        fc_out_channels=4096,
        dropout_ratio=0.5,
        bbox_head=dict(
            in_channels=4096, num_classes=num_classes, num_refine=1)),
    roi_head=dict(bbox_head=dict(in_channels=4096, num_classes=num_classes)),
    scm=dict(heatmap_stride=4))
