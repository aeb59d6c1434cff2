# Ours with an RPN trained on base-class boxes inside the model instead of
# Selective Search proposals (Table 3d). The RPN's proposals feed both the
# recognition and the detection head; the dataset's proposals are ignored.
_base_ = './drn_tiny_synthetic.py'
model = dict(
    rpn_head=dict(
        type='RPNHead',
        in_channels=128,
        feat_channels=128,
        anchor_generator=dict(
            type='AnchorGenerator',
            scales=[2, 4, 8, 16],
            ratios=[0.5, 1.0, 2.0],
            strides=[8]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.7,
                neg_iou_thr=0.3,
                min_pos_iou=0.3,
                match_low_quality=True,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=256,
                pos_fraction=0.5,
                neg_pos_ub=-1,
                add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(
            nms_pre=2000,
            max_per_img=500,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0)),
    test_cfg=dict(
        rpn=dict(
            nms_pre=1000,
            max_per_img=500,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0)))


def _without_proposals(step):
    """``step`` of a test pipeline that computes no proposals: an image
    without any gets an empty set (the RPN makes its own); a dataset's are
    still loaded, and ignored, as before. (A function: mmengine keeps it out
    of the config.)"""
    if isinstance(step, list):
        return [_without_proposals(s) for s in step]
    if step['type'] == 'LoadOrComputeProposals':
        return dict(step, proposal_cfg=None)
    if 'transforms' in step:
        return dict(step, transforms=_without_proposals(step['transforms']))
    return step


test_pipeline = _without_proposals(_base_.test_pipeline)
tta_pipeline = _without_proposals(_base_.tta_pipeline)
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
