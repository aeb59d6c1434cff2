# The WSOD literature's pipelines on precomputed proposals, the one place
# they are written: training at a random shorter side of 480-1200 (longer
# side <= 2000) with flips, testing at 688, and the multi-scale + flip
# test-time augmentation. Proposals are resized and flipped with the image
# by ProposalBroadcaster. The VOC and COCO dataset configs take them as they
# are; ./synthetic_csod.py takes them at the generated images' scales (only
# train_scales, test_scale and tta_scales differ).
#
# Testing takes the dataset's proposals when a sample has them and computes
# them otherwise (an image given to mmdet's DetInferencer or tools/infer.py,
# a test set without proposal_file), by LoadOrComputeProposals with
# proposal_cfg: the settings the training proposals were made with, those of
# tools/dataset_converters/selective_search.py (mode, --max-side, --min-size,
# --seed), and the first max_boxes kept, as num_max_proposals keeps them.
# Here the tool's defaults (OpenCV's fast mode at full size), how the COCO
# proposals are made; VOC's OICR .mat boxes come from the original MATLAB
# Selective Search, whose fast mode this is the OpenCV version of (other
# boxes, the same method). A dataset whose proposals were made otherwise
# sets its own (./synthetic_csod.py: max_side=192).
backend_args = None
proposal_cfg = dict(
    type='SelectiveSearch',
    mode='fast',
    max_side=None,
    min_size=2,
    seed=0,
    max_boxes=2000)

# The WSOD training scales (shorter side at random, longer side <= 2000).
train_scales = [(2000, 480), (2000, 576), (2000, 688), (2000, 864),
                (2000, 1200)]
test_scale = (2000, 688)

train_pipeline = [
    # an unreadable training image, or one of another size than the json's,
    # is skipped (named, counted; the dataset's max_bad_images stops the run)
    dict(type='LoadImageFromFileChecked', backend_args=backend_args),
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
    # LoadImageFromFile by that name: mmdet's DetInferencer replaces it with
    # its loader of paths and arrays
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(
        type='LoadOrComputeProposals',
        num_max_proposals=None,
        proposal_cfg=proposal_cfg),
    dict(
        type='ProposalBroadcaster',
        transforms=[dict(type='Resize', scale=test_scale, keep_ratio=True)]),
    # after the resize: ground truth stays in original image coordinates,
    # where predictions are rescaled to and the metrics compare them
    dict(type='LoadAnnotations', with_bbox=True),
    # image_labels: those of a dataset sample; an image given for inference
    # has none, and no test step needs them
    dict(
        type='PackCSODInputs',
        require_proposals=True,
        require_image_labels=False,
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
    dict(
        type='LoadOrComputeProposals',
        num_max_proposals=None,
        proposal_cfg=proposal_cfg),
    dict(
        type='TestTimeAug',
        transforms=[
            tta_resizes, tta_flips,
            [dict(type='LoadAnnotations', with_bbox=True)],
            [
                dict(
                    type='PackCSODInputs',
                    require_proposals=True,
                    require_image_labels=False,
                    meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                               'scale_factor', 'flip', 'flip_direction'))
            ]
        ])
]
