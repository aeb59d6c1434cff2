# Weakly supervised detector (WSDDN / OICR / PCL head) on precomputed
# proposals with the small CPU backbone. num_classes is set by each config.
_base_ = './small_vgg.py'
model = dict(
    type='WeakRCNN',
    data_preprocessor={{_base_.small_vgg_data_preprocessor}},
    backbone={{_base_.small_vgg_backbone}},
    roi_head=dict(
        type='MILRoIHead',
        bbox_roi_extractor={{_base_.small_vgg_roi_extractor}},
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
