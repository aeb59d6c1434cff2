"""VGG16 as the weakly supervised detection literature uses it.

The 13 convolutions of VGG16 (no batch norm) with the conv1..conv4 max pools
and without pool5: the RoI head pools 7x7 windows straight from conv5_3 and
the two fc layers of the ImageNet classifier (fc6, fc7) become its shared
fcs. ``tools/model_converters/vgg16_to_mmdet.py`` (a command line and a
library) turns torchvision or Caffe VGG16 weights into a checkpoint for this
module.
"""
from typing import Tuple

from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn

# (name, input channels, output channels), in forward order.
VGG16_CONVS = (
    ('conv1_1', 3, 64),
    ('conv1_2', 64, 64),
    ('conv2_1', 64, 128),
    ('conv2_2', 128, 128),
    ('conv3_1', 128, 256),
    ('conv3_2', 256, 256),
    ('conv3_3', 256, 256),
    ('conv4_1', 256, 512),
    ('conv4_2', 512, 512),
    ('conv4_3', 512, 512),
    ('conv5_1', 512, 512),
    ('conv5_2', 512, 512),
    ('conv5_3', 512, 512),
)


@MODELS.register_module()
class WSODVGG16(BaseModule):
    """VGG16 up to conv5_3 + ReLU: one 512-channel map at stride 16 or 8.

    Layers (each conv is a plain 3x3 ``nn.Conv2d`` with bias, followed by a
    ReLU)::

        conv1_1 conv1_2 pool1 | conv2_1 conv2_2 pool2 |
        conv3_1 conv3_2 conv3_3 pool3 | conv4_1 conv4_2 conv4_3 pool4 |
        conv5_1 conv5_2 conv5_3

    The pools are 2x2 max pools with stride 2; there is no pool5. With
    ``dilate_conv5=True`` pool4 is dropped and conv5_1..conv5_3 use dilation
    2 (padding 2), the OICR / PCL variant with stride 8 features.

    Output size for a [B, 3, H, W] input, with s = ``self.stride`` (16, or 8
    when dilated):

    - ``ceil_mode=True`` (default): [B, 512, ceil(H / s), ceil(W / s)]
    - ``ceil_mode=False`` (torchvision, PyTorch's default): [B, 512,
      floor(H / s), floor(W / s)]

    The two agree when H and W are multiples of s.

    Weights: the conv layers' attribute names are those of the Caffe model
    (``conv1_1`` ... ``conv5_3``), so a converted checkpoint holds
    ``backbone.conv1_1.weight`` and so on. Load it with a config's
    ``load_from`` or with ``init_cfg=dict(type='Pretrained',
    checkpoint=PATH, prefix='backbone.')``, and set the data preprocessor's
    ``mean`` / ``std`` / ``bgr_to_rgb`` to what the converter reports (Caffe
    and torchvision weights expect different inputs).

    Args:
        dilate_conv5 (bool): Drop pool4 and dilate conv5_x by 2 (stride 8
            output). Defaults to False (stride 16).
        frozen_stages (int): Freeze stages 1..frozen_stages, stage i being
            conv{i}_*: their parameters get ``requires_grad=False`` and stay
            so after ``.train()``. -1 or 0 freezes nothing. Defaults to 2
            (conv1 and conv2, as in the WSOD literature).
        ceil_mode (bool): Ceil mode of the max pools, see the sizes above.
            Defaults to True.
        init_cfg (dict or list, optional): Initialization config. None (the
            default) means Kaiming initialization of the convs (fan_out,
            ReLU gain, zero bias); pretrained weights then come from
            ``load_from`` or are given as a ``Pretrained`` init_cfg.

    Attributes:
        out_channels (int): 512.
        stride (int): Output stride, 16 or 8.
    """

    num_stages = 5
    out_channels = 512

    def __init__(self,
                 dilate_conv5: bool = False,
                 frozen_stages: int = 2,
                 ceil_mode: bool = True,
                 init_cfg=None):
        if init_cfg is None:
            init_cfg = dict(
                type='Kaiming',
                layer='Conv2d',
                mode='fan_out',
                nonlinearity='relu',
                bias=0)
        super().__init__(init_cfg=init_cfg)
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError('frozen_stages must be in [-1, '
                             f'{self.num_stages}], got {frozen_stages}')
        self.dilate_conv5 = dilate_conv5
        self.frozen_stages = frozen_stages
        self.stride = 8 if dilate_conv5 else 16
        for name, c_in, c_out in VGG16_CONVS:
            dilation = 2 if dilate_conv5 and name.startswith('conv5') else 1
            self.add_module(
                name,
                nn.Conv2d(
                    c_in,
                    c_out,
                    3,
                    padding=dilation,
                    dilation=dilation,
                    bias=True))
        self.relu = nn.ReLU(inplace=True)
        # conv name -> the pool after it
        self._pools = dict(conv1_2='pool1', conv2_2='pool2', conv3_3='pool3')
        if not dilate_conv5:
            self._pools['conv4_3'] = 'pool4'
        for pool in self._pools.values():
            self.add_module(pool, nn.MaxPool2d(2, 2, ceil_mode=ceil_mode))
        self._freeze_stages()

    def stage_convs(self, stage: int) -> Tuple[nn.Conv2d, ...]:
        """The conv layers of stage ``stage`` (1..5), i.e. conv{stage}_*."""
        return tuple(
            getattr(self, name) for name, _, _ in VGG16_CONVS
            if name.startswith(f'conv{stage}_'))

    def _freeze_stages(self) -> None:
        for stage in range(1, max(self.frozen_stages, 0) + 1):
            for conv in self.stage_convs(stage):
                conv.eval()
                for p in conv.parameters():
                    p.requires_grad = False

    def train(self, mode: bool = True) -> 'WSODVGG16':
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor]:
        """[B, 3, H, W] -> ([B, 512, H', W'], ), H' and W' as documented
        in the class docstring (ceil(H / stride) by default)."""
        for name, _, _ in VGG16_CONVS:
            x = self.relu(getattr(self, name)(x))
            if name in self._pools:
                x = getattr(self, self._pools[name])(x)
        return (x, )
