# The WSOD literature's pipelines on precomputed proposals, the one place
# they are written: training at a random shorter side of 480-1200 (longer
# side <= 2000) with flips, testing at 688, and the multi-scale + flip
# test-time augmentation. Proposals are resized and flipped with the image
# by ProposalBroadcaster. The VOC and COCO dataset configs take them as they
# are; ./synthetic_csod.py takes them at the generated images' scales (only
# train_scales, test_scale and tta_scales differ).
backend_args = None

# The WSOD training scales (shorter side at random, longer side <= 2000).
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

# Test-time augmentation (tools/test.py --tta) with the WSOD convention
# (OICR, PCL): every scale of tta_scales, each with and without a
# horizontal flip; the proposals are resized and flipped with the image, so
# ScoreAveragingTTAModel averages their class scores over the views before
# one per-class NMS. Ground truth is loaded after the views, in original
# image coordinates.
tta_scales = train_scales
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
