# Weakly supervised detector (WSDDN / OICR / PCL head) on precomputed
# proposals with the small CPU backbone. num_classes is set by each config.
model = dict(
    type='WeakRCNN',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=8),
    # crop-pretrained weights (tools/misc/pretrain_backbone.py), the
    # analogue of the ImageNet VGG16 every WSOD/CSOD method starts from;
    # the environment variable CSOD_PRETRAINED overrides the path
    backbone=dict(
        type='SmallVGG',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='{{$CSOD_PRETRAINED:checkpoints/small_vgg_crops.pth}}',
            prefix='backbone.')),
    roi_head=dict(
        type='MILRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
            out_channels=128,
            featmap_strides=[8]),
        num_shared_fcs=2,
        fc_out_channels=512,
        dropout_ratio=0.5,
        bbox_head=dict(
            type='MILBBoxHead',
            in_channels=512,
            num_classes=None,
            num_refine=3,
            refine_targets='oicr',
            pseudo_label_cfg=dict(iou_thr=0.5, weight_mode='seed_score'),
            loss_mil=dict(type='MILLoss'),
            loss_refine=dict(type='WeightedRefineLoss'))),
    train_cfg=dict(rcnn=None),
    # WSOD convention: NMS at IoU 0.3 over the proposal scores.
    test_cfg=dict(
        rcnn=dict(
            score_thr=1e-3,
            nms=dict(type='nms', iou_threshold=0.3),
            max_per_img=100)))
