# Fast R-CNN on precomputed proposals with the small CPU backbone: the
# detection head of the DRN on its own. num_classes is set by each config.
_base_ = './small_vgg.py'
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
            num_classes=None,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))),
    train_cfg=dict(
        rcnn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                match_low_quality=False,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=128,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rcnn=dict(
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=100)))
