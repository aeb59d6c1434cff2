"""Proposal cluster loss of PCL (Tang et al., TPAMI 2018)."""
from typing import Optional

import torch
from mmdet.registry import MODELS
from torch import Tensor, nn

from .unknown_classes import merge_unknown_probs


@MODELS.register_module()
class PCLLoss(nn.Module):
    """Cluster-level loss of PCL's refinement branches.

    For image i with R_i proposals (ignored ones included), its clusters m
    (label ``y_m``, score ``s_m``, size ``M_m``) and its background
    proposals r (label C, weight ``w_r``; ignored proposals have weight 0)::

        L_i = -1/R_i * [ sum_m s_m * M_m * log(mean_{r in m} p[r, y_m])
                         + sum_r w_r * log p[r, C] ]

    and the loss is the mean of ``L_i`` over the ``num_imgs`` images.
    Probabilities (the cluster means too) are clamped to ``eps`` before the
    log; an empty cluster (``M_m = 0``) adds nothing. With
    ``image_label_weights`` the classes unknown in an image are merged into
    its background column (:func:`merge_unknown_probs`): a background
    proposal may be an unknown class, a cluster's proposals are its class
    and no other. The targets are what
    :func:`mmdet_csod.models.utils.pcl_clusters.pcl_targets` returns.

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
                cluster_ids: Tensor,
                cluster_labels: Tensor,
                cluster_scores: Tensor,
                cluster_sizes: Tensor,
                img_inds: Tensor,
                num_imgs: int,
                image_label_weights: Optional[Tensor] = None) -> Tensor:
        """Cluster and background terms per image, then mean over images.

        Args:
            probs (Tensor): [N, C + 1] softmax probabilities (background
                last) of all proposals of the batch.
            labels (Tensor): [N] long in 0..C (C: background or ignored).
            weights (Tensor): [N] weight of each background proposal (the
                values of cluster members are not used here).
            cluster_ids (Tensor): [N] long cluster of each proposal in
                0..M-1, -1 for background and ignored proposals.
            cluster_labels (Tensor): [M] long class of each cluster.
            cluster_scores (Tensor): [M] score ``s_m`` of each cluster.
            cluster_sizes (Tensor): [M] members ``M_m`` of each cluster.
            img_inds (Tensor): [N] image index of each proposal.
            num_imgs (int): Images in the batch.
            image_label_weights (Tensor, optional): [B, C], 0 for a class
                unknown in the image (merged into background there).

        Returns:
            Tensor: scalar loss.
        """
        probs = merge_unknown_probs(probs, image_label_weights, img_inds)
        num_classes = probs.size(1) - 1
        num_clusters = len(cluster_labels)
        counts = torch.bincount(img_inds, minlength=num_imgs).clamp(min=1)
        per_img = probs.new_zeros(num_imgs)

        # background term: sum_r w_r log p[r, C]
        bg = labels == num_classes
        bg_log = probs[:, num_classes].clamp(min=self.eps).log()
        per_img = per_img.index_add(0, img_inds[bg],
                                    weights[bg].to(probs.dtype) * bg_log[bg])

        # cluster term: s_m M_m log(mean_{r in m} p[r, y_m])
        # (an empty cluster has size 0 and image 0: it adds 0)
        fg = cluster_ids >= 0
        ids = cluster_ids[fg]
        member_p = probs[fg].gather(1, cluster_labels[ids][:, None]).squeeze(1)
        sums = probs.new_zeros(num_clusters).index_add(0, ids, member_p)
        sizes = cluster_sizes.to(probs.dtype)
        means = (sums / sizes.clamp(min=1)).clamp(min=self.eps)
        terms = cluster_scores.to(probs.dtype) * sizes * means.log()
        cluster_img = img_inds.new_zeros(num_clusters).index_put((ids, ),
                                                                 img_inds[fg])
        per_img = per_img.index_add(0, cluster_img, terms)
        return -self.loss_weight * (per_img / counts).mean()
