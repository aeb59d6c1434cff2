# PASCAL VOC 2007 trainval -> test with the paper's split: the first 10 VOC
# classes (standard order) are base, the last 10 novel. The XML annotations
# are converted to COCO json first (tools/dataset_converters/voc_to_coco.py),
# and OICR's Selective Search .mat files to the project's proposal format
# (tools/dataset_converters/oicr_mat_to_proposals.py); see the README.
_base_ = './wsod_pipelines.py'

dataset_type = 'CSODCocoDataset'
data_root = 'data/VOCdevkit/'
backend_args = None

classes = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
           'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike',
           'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
metainfo = dict(
    classes=classes, base_classes=classes[:10], novel_classes=classes[10:])

# The WSOD training scales (shorter side at random, longer side <= 2000).
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
        ann_file='annotations/voc07_trainval.json',
        data_prefix=dict(img=''),
        proposal_file='proposals/ss_voc07_trainval.npz',
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
        ann_file='annotations/voc07_test.json',
        data_prefix=dict(img=''),
        proposal_file='proposals/ss_voc07_test.npz',
        num_max_proposals=2000,
        test_mode=True,
        pipeline={{_base_.test_pipeline}},
        backend_args=backend_args))
test_dataloader = val_dataloader

# VOC07: 11-point AP at IoU 0.5 (all, base, novel); difficult objects are
# ignored instances. CorLoc is reported on trainval in the WSOD literature:
# test with test_dataloader.dataset.ann_file=annotations/voc07_trainval.json
# and proposal_file=proposals/ss_voc07_trainval.npz.
val_evaluator = [
    dict(
        type='SplitVOCMetric',
        metric='mAP',
        eval_mode='11points',
        iou_thrs=[0.5]),
    dict(type='CorLocMetric', iou_thr=0.5)
]
test_evaluator = val_evaluator
