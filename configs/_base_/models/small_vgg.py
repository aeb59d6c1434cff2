# Pieces the small CPU models share (WSOD, Fast R-CNN and the DRN on the
# generated data): the pixel normalisation, the SmallVGG backbone with its
# crop-pretrained weights, and RoI pooling on its stride-8 map. The model
# bases take them with {{_base_.small_vgg_*}}.
small_vgg_data_preprocessor = dict(
    type='DetDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_size_divisor=8)
# crop-pretrained weights (tools/misc/pretrain_backbone.py), the analogue of
# the ImageNet VGG16 every WSOD/CSOD method starts from; the environment
# variable CSOD_PRETRAINED overrides the path
small_vgg_backbone = dict(
    type='SmallVGG',
    init_cfg=dict(
        type='Pretrained',
        checkpoint='{{$CSOD_PRETRAINED:checkpoints/small_vgg_crops.pth}}',
        prefix='backbone.'))
# RoIAlign has CPU and GPU kernels; mmcv's RoIPool is GPU only. On CPUs
# SeparableRoIAlign computes mmcv's RoIAlign as two matrix products (same
# results to float rounding, ~2.5x faster forward and backward; CUDA inputs
# go to mmcv's kernel); RegisteredLayerRoIExtractor is SingleRoIExtractor
# taking that registered layer type.
small_vgg_roi_extractor = dict(
    type='RegisteredLayerRoIExtractor',
    roi_layer=dict(type='SeparableRoIAlign', output_size=7, sampling_ratio=2),
    out_channels=128,
    featmap_strides=[8])
