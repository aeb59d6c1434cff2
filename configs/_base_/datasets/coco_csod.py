# COCO train2017 -> val2017. The split files beside this one
# (coco_csod_*.py) set base_classes or novel_classes (the rest are the
# other); classes are COCO's 80 in COCO order. Proposals: Selective Search by
# tools/dataset_converters/selective_search.py, or an RPN trained on base
# classes written in the same format.
_base_ = './wsod_pipelines.py'

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

train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # resumable mid-epoch (ResumableEpochBasedTrainLoop), seeded batches
    batch_sampler=dict(
        type='ResumableBatchSampler',
        batch_sampler=dict(type='AspectRatioBatchSampler')),
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
        pipeline={{_base_.train_pipeline}},
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
        pipeline={{_base_.test_pipeline}},
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='SplitCocoMetric',
    ann_file=data_root + 'annotations/instances_val2017.json',
    metric='bbox',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator
