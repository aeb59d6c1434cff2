"""Losses of the multiple-instance recognition heads."""
import torch
from mmdet.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class MILLoss(nn.Module):
    """Image-level binary cross-entropy of WSDDN.

    ``phi`` are image scores in [0, 1] (proposal scores summed over
    proposals), clamped to [eps, 1 - eps] before the log.

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

    def forward(self, phi: Tensor, labels: Tensor) -> Tensor:
        """phi [B, C] image scores, labels [B, C] multi-hot -> scalar."""
        phi = phi.clamp(self.eps, 1 - self.eps)
        loss = -(labels * phi.log() + (1 - labels) * (1 - phi).log())
        loss = loss.sum(1).mean() if self.reduction == 'sum_classes' \
            else loss.mean()
        return self.loss_weight * loss


@MODELS.register_module()
class WeightedRefineLoss(nn.Module):
    """Weighted softmax cross-entropy of OICR's refinement branches.

    ``loss = -1/R sum_r w_r log p[r, y_r]`` for each image, averaged over
    the images of the batch.

    Args:
        eps (float): Clamp of the probabilities. Defaults to 1e-6.
        loss_weight (float): Defaults to 1.0.
    """

    def __init__(self, eps: float = 1e-6, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.eps = eps
        self.loss_weight = loss_weight

    def forward(self, probs: Tensor, labels: Tensor, weights: Tensor,
                img_inds: Tensor, num_imgs: int) -> Tensor:
        """Per-proposal loss averaged per image, then over images.

        Args:
            probs (Tensor): [N, C + 1] softmax probabilities (background
                last) of all proposals of the batch.
            labels (Tensor): [N] targets in 0..C.
            weights (Tensor): [N].
            img_inds (Tensor): [N] image index of each proposal.
            num_imgs (int): Images in the batch.
        """
        p = probs.gather(1, labels[:, None]).squeeze(1).clamp(min=self.eps)
        per_prop = -weights * p.log()
        counts = torch.bincount(img_inds, minlength=num_imgs).clamp(min=1)
        per_img = per_prop.new_zeros(num_imgs).index_add_(
            0, img_inds, per_prop)
        return self.loss_weight * (per_img / counts).mean()
