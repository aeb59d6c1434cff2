# The DRN on VGG16 with the paper's settings (the root of the DRN model
# tree; _base_/models/drn_small_vgg.py is a delta on it for the CPU model):
# - conv5_3 (stride 16), RoI pooling 7x7, VGG16's fc6 and fc7 (4096) as the
#   two shared fc layers, owned by the recognition head and shared with the
#   Faster R-CNN detection head (section 3);
# - the recognition head: OICR with a lighter refinement (1 branch), the
#   refinement's pseudo labels from the top-scoring proposal of each class
#   present: foreground at IoU > 0.5 with it, each proposal weighted by that
#   IoU (weight_mode='iou', Eq. 1);
# - the SCM: a two-channel (max, sum) heatmap of the size of the image
#   (heatmap_stride=1) and FCOS's head and loss on five conv layers with
#   five max poolings in place of the backbone and FPN (section 4);
# - lambda_rec 1, lambda_det 10, lambda_scm 10 (section 5.1).
# The detection head's box coding, losses, rcnn assigner / sampler and test
# settings are Fast R-CNN's, shared with Fast R-CNN (./rcnn_settings.py).
# Experiments set model.class_split from the dataset's metainfo.
# tests/configs/test_paper_configs.py pins these values for every VGG16 DRN
# config. ImageNet weights:
# tools/model_converters/vgg16_to_mmdet.py --fc-prefix rec_head.shared_fcs
_base_ = './rcnn_settings.py'
num_classes = 20
model = dict(
    type='DRN',
    class_split=dict(),
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=16),
    backbone=dict(type='WSODVGG16', dilate_conv5=False, frozen_stages=2),
    rec_head=dict(
        type='MILRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            # mmcv's RoIPool runs on GPUs only; RoIAlign on CPUs too
            roi_layer=dict(type='RoIPool', output_size=7),
            out_channels=512,
            featmap_strides=[16]),
        num_shared_fcs=2,
        fc_out_channels=4096,
        dropout_ratio=0.5,
        bbox_head=dict(
            type='MILBBoxHead',
            in_channels=4096,
            num_classes=num_classes,
            num_refine=1,
            # The paper's foreground test is IoU > 0.5; oicr_pseudo_labels
            # takes IoU >= iou_thr. Kept: the IoUs are float computations,
            # and a proposal exactly at 0.5 is OICR's own convention (>=).
            # OICRTargets brings its loss (WeightedRefineLoss).
            refine_targets=dict(
                type='OICRTargets', iou_thr=0.5, weight_mode='iou'),
            loss_mil=dict(type='MILLoss'))),
    roi_head=dict(
        type='SharedFeatureRoIHead',
        bbox_head=dict(
            # classifier and regressor straight on the shared fc features
            type='BBoxHead',
            with_avg_pool=False,
            in_channels=4096,
            roi_feat_size=1,
            num_classes=num_classes)),
    scm=dict(
        type='SpatialCorrelationModule',
        inputs=dict(type='HeatmapInputs', modes=('max', 'sum')),
        heatmap_stride=1,
        score_thr=0.1,
        max_boxes=100,
        detector=dict(
            type='HeatmapFCOS', num_convs=5, num_pools=5, feat_channels=32)),
    rec_classes='all',
    share_roi_features=True,
    pseudo_gt='scm',
    novel_from='det',
    loss_weights=dict(rec=1.0, det=10.0, scm=10.0),
    # test_cfg.rcnn (the detection head) from ./rcnn_settings.py; rec: the
    # recognition head's boxes, WSOD's convention (NMS at IoU 0.3)
    test_cfg=dict(
        rec=dict(
            score_thr=1e-3,
            nms=dict(type='nms', iou_threshold=0.3),
            max_per_img=100)))
