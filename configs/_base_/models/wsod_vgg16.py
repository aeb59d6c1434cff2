# Weakly supervised detector on VGG16 as the WSOD literature uses it (OICR,
# PCL), the root of the WSOD model tree (./wsod_small_vgg.py is a delta on
# it for the CPU model): conv5_3 features with pool4 dropped and conv5
# dilated (stride 8), RoI pooling 7x7, VGG16's fc6 and fc7 (with dropout) as
# the two shared fc layers, WSDDN + OICR's 3 refinement branches (the WSDDN
# and PCL configs change them), NMS at IoU 0.3 at test.
# tests/configs/test_paper_configs.py pins these values for every VGG16 WSOD
# config.
# ImageNet weights: tools/model_converters/vgg16_to_mmdet.py (torchvision or
# Caffe VGG16) writes the checkpoint each experiment's load_from names; its
# mean/std/bgr_to_rgb must match data_preprocessor (torchvision's are below).
model = dict(
    type='WeakRCNN',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=16),
    backbone=dict(type='WSODVGG16', dilate_conv5=True, frozen_stages=2),
    roi_head=dict(
        type='MILRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            # mmcv's RoIPool has a GPU kernel only; on a CPU set
            # model.roi_head.bbox_roi_extractor.roi_layer.type='RoIAlign'
            roi_layer=dict(type='RoIPool', output_size=7),
            out_channels=512,
            featmap_strides=[8]),
        num_shared_fcs=2,
        fc_out_channels=4096,
        dropout_ratio=0.5,
        bbox_head=dict(
            type='MILBBoxHead',
            in_channels=4096,
            num_classes=20,
            num_refine=3,
            # OICR's pseudo-labels and their loss (WeightedRefineLoss)
            refine_targets=dict(
                type='OICRTargets', iou_thr=0.5, weight_mode='seed_score'),
            loss_mil=dict(type='MILLoss'))),
    train_cfg=dict(rcnn=None),
    test_cfg=dict(
        rcnn=dict(
            score_thr=1e-4,
            nms=dict(type='nms', iou_threshold=0.3),
            max_per_img=100)))
