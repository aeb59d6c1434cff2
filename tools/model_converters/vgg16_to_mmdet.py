"""Convert ImageNet VGG16 weights to an mmdet checkpoint for WSODVGG16.

    python tools/model_converters/vgg16_to_mmdet.py SRC DST \\
        --format torchvision|caffe [--fc-prefix roi_head.shared_fcs] \\
        [--no-fc] [--ignore-extra]

SRC is a state dict saved with ``torch.save`` (or a dict with a
'state_dict' key), read with the safe loader: torchvision's ``vgg16``
(``features.N`` / ``classifier.N`` keys) or the Caffe model converted to
PyTorch as pcl.pytorch / Detectron use it (``conv1_1.weight`` or
``conv1_1_w`` ... ``fc7.bias``). DST holds ``backbone.conv1_1.weight`` ...
``backbone.conv5_3.bias`` and, unless --no-fc, fc6 / fc7 as
``FC_PREFIX.0.*`` / ``FC_PREFIX.1.*``; fc8 is dropped. Every expected key is
checked for its shape; unknown keys are an error unless --ignore-extra.

The two sources expect different pixels (torchvision: RGB, ImageNet mean and
std; Caffe: BGR, mean subtracted, std 1). DST's meta records which, and the
tool prints the ``data_preprocessor`` settings to put in the config.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdet_csod.models.utils import vgg16_weights  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='VGG16 state dict (torch.save file)')
    parser.add_argument('dst', help='the mmdet checkpoint to write')
    parser.add_argument(
        '--format',
        required=True,
        choices=vgg16_weights.FORMATS,
        help='layout of SRC: torchvision vgg16 or Caffe VGG16')
    parser.add_argument(
        '--fc-prefix',
        default='roi_head.shared_fcs',
        help='key prefix of fc6 (PREFIX.0) and fc7 (PREFIX.1) in DST '
        '(default: %(default)s)')
    parser.add_argument(
        '--no-fc', action='store_true', help='convert the convs only')
    parser.add_argument(
        '--ignore-extra',
        action='store_true',
        help='drop unknown keys of SRC instead of failing')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        ckpt = vgg16_weights.convert_vgg16_file(
            args.src,
            args.dst,
            args.format,
            fc_prefix=args.fc_prefix,
            with_fc=not args.no_fc,
            ignore_extra=args.ignore_extra)
    except ValueError as e:  # VGG16WeightsError included
        raise SystemExit(f'error: {e}')
    meta, state_dict = ckpt['meta'], ckpt['state_dict']
    n_backbone = sum(k.startswith('backbone.') for k in state_dict)
    n_fc = len(state_dict) - n_backbone
    fcs = (f', fc6/fc7 -> {meta["fc_prefix"]}.0/.1 ({n_fc} tensors)'
           if meta['with_fc'] else ', no fcs')
    print(f'wrote {args.dst} from {meta["source_format"]} VGG16 '
          f'{args.src}: {n_backbone} backbone tensors{fcs}; loads with '
          'weights_only=True')
    print('these weights expect (config):\n'
          f'  data_preprocessor=dict(mean={meta["mean"]}, '
          f'std={meta["std"]}, bgr_to_rgb={meta["bgr_to_rgb"]})')


if __name__ == '__main__':
    main()
