# The generated dataset (tools/dataset_converters/make_synthetic.py) with its
# cross-supervised split: the first five classes have boxes (base), the last
# five only image-level labels (novel), as the paper splits VOC.
dataset_type = 'CSODCocoDataset'
data_root = 'data/synthetic/'
backend_args = None

classes = ('cart', 'bottle', 'sign', 'house', 'kite', 'person', 'horse',
           'lamp', 'fish', 'tree')
metainfo = dict(
    classes=classes, base_classes=classes[:5], novel_classes=classes[5:])

# The first 150 Selective Search boxes of an image (of ~250): recall at IoU
# 0.5 of the val boxes 95.2 % (all boxes: 97.7 %, 100: 91.3 %), 40 % fewer
# RoIs to pool and score on CPU.
max_proposals = 150

# Multi-scale training as in WSOD (shorter side at random, flip); proposals
# are resized and flipped with the image by ProposalBroadcaster.
train_scales = [(480, 224), (480, 256), (480, 288), (480, 320)]
test_scale = (480, 288)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadProposals', num_max_proposals=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='ProposalBroadcaster',
        transforms=[
            dict(
                type='RandomChoiceResize',
                scales=train_scales,
                keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(type='PackCSODInputs', require_proposals=True)
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadProposals', num_max_proposals=None),
    dict(
        type='ProposalBroadcaster',
        transforms=[dict(type='Resize', scale=test_scale, keep_ratio=True)]),
    # after the resize: ground truth stays in original image coordinates,
    # where predictions are rescaled to and the metrics compare them
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackCSODInputs',
        require_proposals=True,
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        supervision='cross',
        ann_file='annotations/train.json',
        data_prefix=dict(img='train/'),
        proposal_file='proposals/ss_train.npz',
        num_max_proposals=max_proposals,
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        data_prefix=dict(img='val/'),
        proposal_file='proposals/ss_val.npz',
        num_max_proposals=max_proposals,
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# AP at IoU 0.5 (the paper's measure), area under the PR curve, for all,
# base and novel classes; and CorLoc. CorLoc is a training-set measure in the
# WSOD literature: test on the training images with
#   --cfg-options test_dataloader.dataset.ann_file=annotations/train.json \
#   test_dataloader.dataset.data_prefix.img=train/ \
#   test_dataloader.dataset.proposal_file=proposals/ss_train.npz
val_evaluator = [
    dict(
        type='SplitVOCMetric', metric='mAP', eval_mode='area',
        iou_thrs=[0.5]),
    dict(type='CorLocMetric', iou_thr=0.5)
]
test_evaluator = val_evaluator

# Test-time augmentation (tools/test.py --tta) with the WSOD convention
# (OICR, PCL): every scale of tta_scales, each with and without a
# horizontal flip; the proposals are resized and flipped with the image, so
# ScoreAveragingTTAModel averages their class scores over the views before
# one per-class NMS. Ground truth is loaded after the views, in original
# image coordinates.
tta_scales = [(480, 224), (480, 256), (480, 288), (480, 320)]
tta_model = dict(
    type='ScoreAveragingTTAModel',
    tta_cfg=dict(
        score_thr=1e-3,
        nms=dict(type='nms', iou_threshold=0.3),
        max_per_img=100))
tta_resizes = [
    dict(
        type='ProposalBroadcaster',
        transforms=[dict(type='Resize', scale=scale, keep_ratio=True)])
    for scale in tta_scales
]
tta_flips = [
    dict(
        type='ProposalBroadcaster',
        transforms=[dict(type='RandomFlip', prob=prob)]) for prob in (1., 0.)
]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadProposals', num_max_proposals=None),
    dict(
        type='TestTimeAug',
        transforms=[
            tta_resizes, tta_flips,
            [dict(type='LoadAnnotations', with_bbox=True)],
            [
                dict(
                    type='PackCSODInputs',
                    require_proposals=True,
                    meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                               'scale_factor', 'flip', 'flip_direction'))
            ]
        ])
]
