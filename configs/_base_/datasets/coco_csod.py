# COCO train2017 -> val2017. The split files beside this one
# (coco_csod_*.py) set base_classes or novel_classes (the rest are the
# other); classes are COCO's 80 in COCO order. Proposals: Selective Search by
# tools/dataset_converters/selective_search.py, or an RPN trained on base
# classes written in the same format.
dataset_type = 'CSODCocoDataset'
data_root = 'data/coco/'
backend_args = None

# COCO's 80 categories in COCO order: the label order of every model.
classes = ('person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus',
           'train', 'truck', 'boat', 'traffic light', 'fire hydrant',
           'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
           'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe',
           'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
           'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat',
           'baseball glove', 'skateboard', 'surfboard', 'tennis racket',
           'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl',
           'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
           'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch',
           'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop',
           'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
           'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase',
           'scissors', 'teddy bear', 'hair drier', 'toothbrush')
metainfo = dict(classes=classes)

train_scales = [(2000, 480), (2000, 576), (2000, 688), (2000, 864),
                (2000, 1200)]
test_scale = (2000, 688)

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
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        supervision='cross',
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        proposal_file='proposals/ss_train2017.npz',
        num_max_proposals=2000,
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        proposal_file='proposals/ss_val2017.npz',
        num_max_proposals=2000,
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='SplitCocoMetric',
    ann_file=data_root + 'annotations/instances_val2017.json',
    metric='bbox',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator

# Test-time augmentation (tools/test.py --tta) with the WSOD convention
# (OICR, PCL): every scale of tta_scales, each with and without a
# horizontal flip; the proposals are resized and flipped with the image, so
# ScoreAveragingTTAModel averages their class scores over the views before
# one per-class NMS. Ground truth is loaded after the views, in original
# image coordinates.
tta_scales = [(2000, 480), (2000, 576), (2000, 688), (2000, 864), (2000, 1200)]
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
