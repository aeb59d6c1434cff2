"""Classes unknown in an image, for the proposal-level softmax losses.

An image of a partial source (``CSODCocoDataset(unlabeled='ignore')``,
``image_label_weights`` [B, C] 0 for a class unknown in the image) may show
objects of a class no one labelled there: a novel object in an image of the
box source, a base object in a tagged image. A proposal labelled background
in that image may be such an object, so its target is the *set*
{background} + the unknown classes, and its loss ``-log(p_bg + sum_u p_u)``
(the partial-label cross-entropy; the federated loss of LVIS detectors is
the sigmoid counterpart). A proposal labelled with a class keeps its
ordinary target ``-log p_y``: it is that class, hence none of the others,
unknown ones included, which is what teaches a recognition head that a
boxed sign is not a person even where nobody said whether the image shows
a person.

Both are one operation on the scores: merge the unknown columns into the
background column of that image's rows. The merged background takes their
probability (``p_bg + sum_u p_u``), the unknown columns become impossible
(probability 0, logit -inf), every known column is unchanged, so a
cross-entropy over the merged scores is exactly the loss above for every
target. With every class known (or no weights) the scores are returned as
they are.
"""
from typing import Optional

import torch
from torch import Tensor


def unknown_rows(image_label_weights: Optional[Tensor],
                 img_inds: Tensor) -> Optional[Tensor]:
    """Per proposal, the classes unknown in its image.

    Args:
        image_label_weights (Tensor, optional): [B, C], 0 for a class
            unknown in the image.
        img_inds (Tensor): [N] long image index of each proposal.

    Returns:
        Tensor or None: [N, C] bool; None when no class is unknown anywhere
        (or no weights are given).
    """
    if image_label_weights is None:
        return None
    unknown = image_label_weights <= 0
    if not bool(unknown.any()):
        return None
    return unknown[img_inds.long()]


def merge_unknown_probs(probs: Tensor, image_label_weights: Optional[Tensor],
                        img_inds: Tensor) -> Tensor:
    """Softmax probabilities with the unknown classes merged into background.

    Args:
        probs (Tensor): [N, C + 1] probabilities, background last.
        image_label_weights (Tensor, optional): [B, C], 0 for a class
            unknown in the image.
        img_inds (Tensor): [N] long image index of each proposal.

    Returns:
        Tensor: [N, C + 1], each row still summing to what it summed to:
        background ``p_bg + sum_u p_u``, unknown columns 0, known columns
        unchanged. ``probs`` itself when no class is unknown.
    """
    unknown = unknown_rows(image_label_weights, img_inds)
    if unknown is None:
        return probs
    fg = probs[:, :-1]
    moved = (fg * unknown.to(fg.dtype)).sum(1, keepdim=True)
    return torch.cat([fg.masked_fill(unknown, 0), probs[:, -1:] + moved], 1)


def merge_unknown_logits(logits: Tensor,
                         image_label_weights: Optional[Tensor],
                         img_inds: Tensor) -> Tensor:
    """Class logits with the unknown classes merged into background.

    The logit form of :func:`merge_unknown_probs`: the background logit
    becomes ``logsumexp`` of itself and the unknown classes' logits, the
    unknown logits -inf, so ``softmax`` of the result is
    :func:`merge_unknown_probs` of ``softmax(logits)``.

    Args:
        logits (Tensor): [N, C + 1] class logits, background last.
        image_label_weights (Tensor, optional): [B, C], 0 for a class
            unknown in the image.
        img_inds (Tensor): [N] long image index of each proposal.

    Returns:
        Tensor: [N, C + 1]; ``logits`` itself when no class is unknown.
    """
    unknown = unknown_rows(image_label_weights, img_inds)
    if unknown is None:
        return logits
    fg = logits[:, :-1]
    bg = torch.cat([logits[:, -1:], fg.masked_fill(~unknown, -torch.inf)],
                   1).logsumexp(1, keepdim=True)
    return torch.cat([fg.masked_fill(unknown, -torch.inf), bg], 1)
