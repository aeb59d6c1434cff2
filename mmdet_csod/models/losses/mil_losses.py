"""Losses of the multiple-instance recognition heads.

Unknown classes: ``image_label_weights`` [B, C] (0 for a class unknown in
an image, 1 for a known one; see ``CSODCocoDataset(unlabeled='ignore')``)
leave a class out of an image instead of counting it as absent. The
image-level loss weighs each (image, class) term by it; the refinement
losses merge an image's unknown classes into background
(:func:`.unknown_classes.merge_unknown_probs`): a background proposal may
be an unknown class, a proposal of a class is none of the others. None:
every class is known, and the losses compute exactly what they compute
without the argument.
"""
from typing import Optional

import torch
from mmdet.registry import MODELS
from torch import Tensor, nn

from .unknown_classes import merge_unknown_probs


@MODELS.register_module()
class MILLoss(nn.Module):
    """Image-level binary cross-entropy of WSDDN.

    ``phi`` are image scores in [0, 1] (proposal scores summed over
    proposals), clamped to [eps, 1 - eps] before the log. With ``weights``
    (``image_label_weights``, 0 for an unknown class) each (image, class)
    term is weighted: 'mean' divides by the sum of the weights (the mean
    over the known pairs), 'sum_classes' sums the known classes of each
    image and takes the mean over the images. A class of weight 0 gets no
    gradient, and masking a class everywhere gives the loss over the other
    classes.

    Args:
        eps (float): Clamp of the image scores. Defaults to 1e-6.
        reduction (str): 'mean' over images and classes (pcl.pytorch's
            convention) or 'sum_classes' (sum over classes, mean over
            images, Eq. 1 of the CSOD paper). Defaults to 'mean'.
        loss_weight (float): Defaults to 1.0.
    """

    def __init__(self,
                 eps: float = 1e-6,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if reduction not in ('mean', 'sum_classes'):
            raise ValueError(f'unknown reduction {reduction!r}')
        self.eps = eps
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self,
                phi: Tensor,
                labels: Tensor,
                weights: Optional[Tensor] = None) -> Tensor:
        """Image-level binary cross-entropy.

        Args:
            phi (Tensor): [B, C] image scores.
            labels (Tensor): [B, C] multi-hot labels.
            weights (Tensor, optional): [B, C] weight of each term, 0 for
                an unknown class. None: all 1.

        Returns:
            Tensor: scalar loss.
        """
        phi = phi.clamp(self.eps, 1 - self.eps)
        loss = -(labels * phi.log() + (1 - labels) * (1 - phi).log())
        if weights is None:
            loss = loss.sum(1).mean() if self.reduction == 'sum_classes' \
                else loss.mean()
        else:
            if weights.shape != loss.shape:
                raise ValueError(f'weights {tuple(weights.shape)} do not '
                                 f'match the image scores '
                                 f'{tuple(loss.shape)}')
            loss = loss * weights.to(loss.dtype)
            loss = loss.sum(1).mean() if self.reduction == 'sum_classes' \
                else loss.sum() / weights.sum().clamp(min=self.eps)
        return self.loss_weight * loss


@MODELS.register_module()
class WeightedRefineLoss(nn.Module):
    """Weighted softmax cross-entropy of OICR's refinement branches.

    ``loss = -1/R sum_r w_r log p[r, y_r]`` for each image, averaged over
    the images of the batch. With ``image_label_weights`` the classes
    unknown in an image are merged into its background column
    (:func:`merge_unknown_probs`): a background target is then the set
    {background, unknown classes}, ``-log(p_bg + sum_u p_u)``.

    Args:
        eps (float): Clamp of the probabilities. Defaults to 1e-6.
        loss_weight (float): Defaults to 1.0.
    """

    def __init__(self, eps: float = 1e-6, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.eps = eps
        self.loss_weight = loss_weight

    def forward(self,
                probs: Tensor,
                labels: Tensor,
                weights: Tensor,
                img_inds: Tensor,
                num_imgs: int,
                image_label_weights: Optional[Tensor] = None) -> Tensor:
        """Per-proposal loss averaged per image, then over images.

        Args:
            probs (Tensor): [N, C + 1] softmax probabilities (background
                last) of all proposals of the batch.
            labels (Tensor): [N] targets in 0..C.
            weights (Tensor): [N].
            img_inds (Tensor): [N] image index of each proposal.
            num_imgs (int): Images in the batch.
            image_label_weights (Tensor, optional): [B, C], 0 for a class
                unknown in the image (merged into background there).
        """
        probs = merge_unknown_probs(probs, image_label_weights, img_inds)
        p = probs.gather(1, labels[:, None]).squeeze(1).clamp(min=self.eps)
        per_prop = -weights * p.log()
        counts = torch.bincount(img_inds, minlength=num_imgs).clamp(min=1)
        per_img = per_prop.new_zeros(num_imgs).index_add_(
            0, img_inds, per_prop)
        return self.loss_weight * (per_img / counts).mean()
