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

The WSOD literature (OICR, PCL, ...) starts from ImageNet VGG16: the 13 convs
become :class:`~mmdet_csod.models.backbones.WSODVGG16` and fc6 / fc7 the two
shared fc layers after 7x7 RoI pooling of conv5_3 (512 * 7 * 7 = 25088
inputs); fc8 (the 1000-way ImageNet classifier) is dropped. Two sources:

- ``'torchvision'``: the state dict of torchvision's ``vgg16``: convs at
  ``features.{0,2,5,7,10,12,14,17,19,21,24,26,28}``, fc6 / fc7 / fc8 at
  ``classifier.{0,3,6}``. Expects RGB input normalized with the ImageNet
  mean and std (0-255 scale).
- ``'caffe'``: the Caffe model converted to PyTorch, as pcl.pytorch and
  Detectron use it: ``conv1_1.weight`` ... ``fc8.bias``, or Detectron's
  spelling ``conv1_1_w`` / ``conv1_1_b`` ... ``fc8_b`` (both accepted).
  Expects BGR input with the Caffe mean subtracted and no scaling.

The result is an mmengine checkpoint ``{'meta': ..., 'state_dict': ...}``
with keys ``backbone.conv1_1.weight`` ... ``backbone.conv5_3.bias`` and,
with the fcs, ``{fc_prefix}.0.*`` (fc6) and ``{fc_prefix}.1.*`` (fc7). Its
``meta`` names the source format and the pixel normalization the weights
expect (``mean``, ``std``, ``bgr_to_rgb`` of mmdet's DetDataPreprocessor,
which loads images as BGR). It holds only tensors, dicts, lists, strings,
floats and bools, so ``torch.load(path, weights_only=True)`` reads it.

The conversion is also a library: with ``tools/`` on ``sys.path``,
``from model_converters.vgg16_to_mmdet import convert_vgg16_state_dict``.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from mmdet_csod.models.backbones.wsod_vgg16 import VGG16_CONVS  # noqa: E402

FORMATS = ('torchvision', 'caffe')

VGG16_CONV_NAMES = tuple(name for name, _, _ in VGG16_CONVS)
# Index of each conv (in VGG16_CONVS order) in torchvision's vgg16.features.
TORCHVISION_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
# Index of fc6 / fc7 in torchvision's vgg16.classifier (fc8 is 6).
TORCHVISION_FC_INDICES = {'fc6': 0, 'fc7': 3}
# fc6 takes the flattened (C, H, W) = (512, 7, 7) RoI feature.
FC_SHAPES = {'fc6': (4096, 512 * 7 * 7), 'fc7': (4096, 4096)}

PIXEL_NORMALIZATION = {
    'torchvision':
    dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    'caffe':
    dict(
        mean=[102.9801, 115.9465, 122.7717],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False),
}

# Source keys that are known but never converted (fc8, ImageNet classes).
_DROPPED = {
    'torchvision': ('classifier.6.weight', 'classifier.6.bias'),
    'caffe': ('fc8.weight', 'fc8.bias', 'fc8_w', 'fc8_b'),
}


class VGG16WeightsError(ValueError):
    """A VGG16 state dict that does not match the format it was given as."""


def vgg16_expected_shapes(with_fc: bool = True) -> Dict[str, tuple]:
    """Canonical parameter name -> shape, e.g. ``'conv1_1.weight'`` ->
    ``(64, 3, 3, 3)`` and ``'fc6.weight'`` -> ``(4096, 25088)``."""
    shapes = {}
    for name, c_in, c_out in VGG16_CONVS:
        shapes[f'{name}.weight'] = (c_out, c_in, 3, 3)
        shapes[f'{name}.bias'] = (c_out, )
    if with_fc:
        for name, (c_out, c_in) in FC_SHAPES.items():
            shapes[f'{name}.weight'] = (c_out, c_in)
            shapes[f'{name}.bias'] = (c_out, )
    return shapes


def source_keys(fmt: str, canonical: str) -> Tuple[str, ...]:
    """The key(s) that hold canonical parameter ``canonical`` (e.g.
    ``'conv1_1.weight'``) in a state dict of format ``fmt``; the first is the
    usual spelling."""
    _check_format(fmt)
    layer, param = canonical.split('.')
    if fmt == 'torchvision':
        if layer in TORCHVISION_FC_INDICES:
            return (f'classifier.{TORCHVISION_FC_INDICES[layer]}.{param}', )
        index = TORCHVISION_CONV_INDICES[VGG16_CONV_NAMES.index(layer)]
        return (f'features.{index}.{param}', )
    return (canonical, f'{layer}_{param[0]}')


def target_key(canonical: str, fc_prefix: str = 'roi_head.shared_fcs') -> str:
    """mmdet checkpoint key of canonical parameter ``canonical``."""
    layer, param = canonical.split('.')
    if layer in FC_SHAPES:
        return f'{fc_prefix}.{list(FC_SHAPES).index(layer)}.{param}'
    return f'backbone.{canonical}'


def guess_vgg16_format(keys) -> Optional[str]:
    """'torchvision', 'caffe' or None, from a state dict's keys."""
    keys = list(keys)
    if any(k.startswith('features.') for k in keys):
        return 'torchvision'
    if any(k.startswith('conv1_1') for k in keys):
        return 'caffe'
    return None


def load_vgg16_state_dict(path: str) -> Dict[str, Tensor]:
    """Read a state dict saved with ``torch.save`` (safe loader only).

    Accepts a bare state dict or a dict with a ``'state_dict'`` key.
    """
    obj = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(obj, Mapping) and 'state_dict' in obj:
        obj = obj['state_dict']
    if not isinstance(obj, Mapping):
        raise VGG16WeightsError(
            f'{path}: expected a state dict (a dict of tensors), found '
            f'{type(obj).__name__}')
    return dict(obj)


def convert_vgg16_state_dict(
        state_dict: Mapping[str, Tensor],
        fmt: str,
        fc_prefix: str = 'roi_head.shared_fcs',
        with_fc: bool = True,
        ignore_extra: bool = False,
        check_fc_shapes: bool = True,
        expected_shapes: Optional[Mapping[str, Sequence[int]]] = None,
        source: str = '<state dict>') -> Dict[str, Tensor]:
    """Rename a torchvision / Caffe VGG16 state dict to mmdet's keys.

    Args:
        state_dict (Mapping[str, Tensor]): The source state dict.
        fmt (str): ``'torchvision'`` or ``'caffe'``.
        fc_prefix (str): Prefix of the converted fc6 (``.0``) and fc7
            (``.1``). Defaults to ``'roi_head.shared_fcs'``.
        with_fc (bool): Convert fc6 and fc7; if False they are dropped
            (and need not be present). Defaults to True.
        ignore_extra (bool): Drop unknown keys instead of raising.
        check_fc_shapes (bool): Check the fc shapes; only tests with small
            stand-ins for the 400 MB fc6 turn this off. Defaults to True.
        expected_shapes (Mapping, optional): Overrides of
            :func:`vgg16_expected_shapes`, by canonical name
            (``'fc6.weight'``), for tests.
        source (str): Names the state dict (its file) in errors.

    Returns:
        dict: mmdet key -> tensor, the source tensors themselves (cloned
        only when they are views into a larger storage).

    Raises:
        VGG16WeightsError: Listing every missing key, every key of the wrong
            shape (expected and found), every non-tensor value and, unless
            ``ignore_extra``, every unknown key, all naming ``source``.
    """
    _check_format(fmt)
    fc_prefix = fc_prefix.rstrip('.')
    if with_fc and not fc_prefix:
        raise ValueError('fc_prefix must not be empty')
    shapes = vgg16_expected_shapes(with_fc)
    unknown_overrides = set(expected_shapes or ()) - set(shapes)
    if unknown_overrides:
        raise ValueError('expected_shapes overrides unknown parameters: '
                         f'{sorted(unknown_overrides)}')
    shapes.update({k: tuple(v) for k, v in (expected_shapes or {}).items()})

    problems: List[str] = []
    converted = {}
    used = set(_DROPPED[fmt])
    if not with_fc:  # known keys, dropped on purpose
        for canonical in vgg16_expected_shapes(True):
            if canonical.startswith('fc'):
                used.update(source_keys(fmt, canonical))
    for canonical, shape in shapes.items():
        candidates = source_keys(fmt, canonical)
        used.update(candidates)
        found = [k for k in candidates if k in state_dict]
        if not found:
            spelling = ' or '.join(repr(k) for k in candidates)
            problems.append(f'missing key {spelling} ({canonical} of a '
                            f'{fmt} VGG16)')
            continue
        if len(found) > 1:
            problems.append(f'both {found[0]!r} and {found[1]!r} present '
                            f'(two spellings of {canonical})')
            continue
        key = found[0]
        value = state_dict[key]
        if not isinstance(value, Tensor) or not value.is_floating_point():
            problems.append(f'key {key!r} ({canonical}) is not a floating '
                            f'point tensor: {_describe(value)}')
            continue
        check = check_fc_shapes or not canonical.startswith('fc')
        if check and tuple(value.shape) != shape:
            problems.append(f'key {key!r} ({canonical}) has the wrong shape: '
                            f'expected {list(shape)}, found '
                            f'{list(value.shape)}')
            continue
        converted[target_key(canonical, fc_prefix)] = _compact(value)

    extra = [k for k in state_dict if k not in used]
    if extra and not ignore_extra:
        problems.append(
            f'unexpected keys for a {fmt} VGG16: '
            f'{", ".join(repr(k) for k in extra)} (ignore_extra=True / '
            '--ignore-extra drops them)')
    if problems:
        raise VGG16WeightsError(_report(source, fmt, state_dict, problems))
    return converted


def vgg16_meta(fmt: str,
               source: str = '',
               with_fc: bool = True,
               fc_prefix: str = 'roi_head.shared_fcs') -> dict:
    """The ``meta`` of a converted checkpoint: source, format, the fc prefix
    and the pixel normalization the weights expect (``mean``, ``std``,
    ``bgr_to_rgb`` as in mmdet's DetDataPreprocessor, also gathered in
    ``data_preprocessor``)."""
    _check_format(fmt)
    norm = PIXEL_NORMALIZATION[fmt]
    return dict(
        converter='vgg16_to_mmdet',
        source=str(source),
        source_format=fmt,
        backbone='WSODVGG16',
        with_fc=bool(with_fc),
        fc_prefix=fc_prefix.rstrip('.') if with_fc else '',
        mean=list(norm['mean']),
        std=list(norm['std']),
        bgr_to_rgb=norm['bgr_to_rgb'],
        data_preprocessor=dict(
            type='DetDataPreprocessor',
            mean=list(norm['mean']),
            std=list(norm['std']),
            bgr_to_rgb=norm['bgr_to_rgb']))


def convert_vgg16_file(src: str,
                       dst: str,
                       fmt: str,
                       fc_prefix: str = 'roi_head.shared_fcs',
                       with_fc: bool = True,
                       ignore_extra: bool = False,
                       **kwargs) -> dict:
    """Convert the VGG16 state dict in file ``src`` and save it to ``dst``.

    ``kwargs`` go to :func:`convert_vgg16_state_dict` (``check_fc_shapes``,
    ``expected_shapes``; leave them alone for real weights). Checks that
    ``dst`` reads back with ``torch.load(dst, weights_only=True)``.

    Returns:
        dict: The saved checkpoint (``meta`` and ``state_dict``).
    """
    if osp.abspath(src) == osp.abspath(dst):
        raise ValueError('src and dst must differ')
    state_dict = convert_vgg16_state_dict(
        load_vgg16_state_dict(src),
        fmt,
        fc_prefix=fc_prefix,
        with_fc=with_fc,
        ignore_extra=ignore_extra,
        source=src,
        **kwargs)
    ckpt = dict(
        meta=vgg16_meta(fmt, src, with_fc, fc_prefix), state_dict=state_dict)
    torch.save(ckpt, dst)
    # mmap: checks the safe loader reads it without a second copy in memory
    saved = torch.load(dst, map_location='cpu', weights_only=True, mmap=True)
    if set(saved['state_dict']) != set(state_dict):
        raise RuntimeError(f'{dst}: the saved keys differ from the converted')
    return ckpt


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f'format must be one of {FORMATS}, got {fmt!r}')


def _compact(t: Tensor) -> Tensor:
    """``t`` detached, cloned if it does not own exactly its storage (so
    that saving it does not save the rest of a shared storage)."""
    t = t.detach()
    if (t.is_contiguous() and t.storage_offset() == 0
            and t.untyped_storage().nbytes() == t.numel() * t.element_size()):
        return t
    return t.clone(memory_format=torch.contiguous_format)


def _describe(value) -> str:
    if isinstance(value, Tensor):
        return f'a {value.dtype} tensor of shape {list(value.shape)}'
    return f'a {type(value).__name__}'


def _report(source: str, fmt: str, state_dict: Mapping,
            problems: List[str]) -> str:
    lines = [f'{source}: not a {fmt} VGG16 state dict:']
    lines += [f'  - {p}' for p in problems]
    guess = guess_vgg16_format(state_dict)
    if guess is not None and guess != fmt:
        lines.append(f'  (its keys look like the {guess!r} format)')
    if any(k.endswith(('running_mean', 'running_var')) for k in state_dict):
        lines.append('  (it has batch norm statistics: vgg16_bn is not '
                     'supported)')
    return '\n'.join(lines)


# ---------------------------------------------------------- command line
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='VGG16 state dict (torch.save file)')
    parser.add_argument('dst', help='the mmdet checkpoint to write')
    parser.add_argument(
        '--format',
        required=True,
        choices=FORMATS,
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
        ckpt = convert_vgg16_file(
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
