# Fast R-CNN's detection head on proposals, the parts every model with one
# shares (the DRN's detection head in ./drn_vgg16.py and every DRN config
# below it, Fast R-CNN in ./fast_rcnn_small_vgg.py): the bbox head's box
# coding and losses, the rcnn assigner / sampler (128 RoIs an image, a
# quarter foreground at IoU >= 0.5) and the test settings (score > 0.05, NMS
# at IoU 0.5, 100 boxes). The model bases inherit it and add the head's type
# and sizes. tests/configs/test_paper_configs.py checks that the users
# resolve to these values.
model = dict(
    roi_head=dict(
        bbox_head=dict(
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
