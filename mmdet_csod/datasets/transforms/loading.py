"""Proposals of a sample: loaded from the dataset, or computed on the fly.

A dataset with a ``proposal_file`` gives every sample its ``proposals``
(``dict(bboxes, scores)``); an image given to mmdet's ``DetInferencer`` or
``tools/infer.py`` has none. :class:`LoadOrComputeProposals` takes the first
exactly as mmdet's ``LoadProposals`` does, and computes the second with the
settings the training proposals were made with (the config's
``proposal_cfg``), so that a model sees at test time the kind of boxes it was
trained on.
"""
import copy
from typing import Optional

import numpy as np
from mmdet.datasets.transforms import LoadProposals
from mmdet.registry import TRANSFORMS

from ..converters.selective_search import SS_MODES, selective_search
from ..proposals import check_nms_iou, clean_proposals

PROPOSAL_METHODS = ('SelectiveSearch', )
# every key of a proposal_cfg and its default (those of
# tools/dataset_converters/selective_search.py, and the dataset's 2000 kept)
SS_DEFAULTS = dict(
    type='SelectiveSearch',
    mode='fast',
    max_side=None,
    min_size=2,
    seed=0,
    max_boxes=2000,
    nms_iou=None)


def check_proposal_cfg(proposal_cfg: Optional[dict]) -> Optional[dict]:
    """``proposal_cfg`` with its defaults filled in, or None for None.

    Keys (the options of ``tools/dataset_converters/selective_search.py``):
    ``type`` ('SelectiveSearch'), ``mode`` ('fast', 'quality', 'single'),
    ``max_side`` (the longer side Selective Search runs at; None: full
    size), ``min_size`` (boxes narrower or lower are dropped), ``seed``
    (of OpenCV's pseudo-random region ranking), ``max_boxes`` (the first
    so many kept, as the dataset's ``num_max_proposals`` keeps them; None:
    all) and ``nms_iou`` (near-duplicates dropped before they are kept, as
    the dataset's ``proposal_nms_iou`` drops them; None: none dropped).

    Raises:
        TypeError: ``proposal_cfg`` is not a dict.
        ValueError: An unknown method, key or mode, or a bad number.
    """
    if proposal_cfg is None:
        return None
    if not isinstance(proposal_cfg, dict):
        raise TypeError('proposal_cfg must be a dict or None, got '
                        f'{type(proposal_cfg).__name__}')
    cfg = dict(SS_DEFAULTS)
    cfg.update(copy.deepcopy(dict(proposal_cfg)))
    if cfg['type'] not in PROPOSAL_METHODS:
        raise ValueError(f'proposal_cfg.type must be one of '
                         f'{PROPOSAL_METHODS}, got {cfg["type"]!r}')
    unknown = sorted(set(cfg) - set(SS_DEFAULTS))
    if unknown:
        raise ValueError(f'proposal_cfg: unknown key(s) {unknown}; known: '
                         f'{sorted(SS_DEFAULTS)}')
    if cfg['mode'] not in SS_MODES:
        raise ValueError(f'proposal_cfg.mode must be one of {SS_MODES}, '
                         f'got {cfg["mode"]!r}')
    for key in ('max_side', 'max_boxes'):
        value = cfg[key]
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, int) or value < 1):
            raise ValueError(f'proposal_cfg.{key} must be a positive int or '
                             f'None, got {value!r}')
    if cfg['seed'] is not None and not isinstance(cfg['seed'], int):
        raise ValueError('proposal_cfg.seed must be an int or None, got '
                         f'{cfg["seed"]!r}')
    if not isinstance(cfg['min_size'], (int, float)) or cfg['min_size'] < 0:
        raise ValueError('proposal_cfg.min_size must be a number >= 0, got '
                         f'{cfg["min_size"]!r}')
    check_nms_iou(cfg['nms_iou'], 'proposal_cfg.nms_iou')
    return cfg


def compute_proposals(img: np.ndarray,
                      proposal_cfg: dict,
                      where: str = '<image>') -> np.ndarray:
    """[K, 4] float32 proposals of one image, made with ``proposal_cfg``.

    The boxes ``tools/dataset_converters/selective_search.py`` writes for
    the same image and settings (x1, y1, x2, y2 in pixels of ``img``, in its
    order), cleaned, freed of near-duplicates (``nms_iou``) and truncated to
    ``max_boxes`` as ``CSODCocoDataset`` reads them from the file.

    Args:
        img (np.ndarray): BGR [H, W, 3], as mmcv and ``cv2.imread`` load it;
            a float image (``to_float32``) is rounded to uint8 first.
        proposal_cfg (dict): See :func:`check_proposal_cfg`.
        where (str): The image's name in error messages.

    Raises:
        ValueError: Not a colour image, or no box found.
        ImportError: OpenCV without its contrib modules (``cv2.ximgproc``).
    """
    cfg = check_proposal_cfg(proposal_cfg)
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'{where}: proposals are computed on a colour image '
                         f'[H, W, 3], got an array of shape {img.shape}')
    if img.dtype != np.uint8:
        img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    boxes = selective_search(
        np.ascontiguousarray(img),
        mode=cfg['mode'],
        max_side=cfg['max_side'],
        min_size=cfg['min_size'],
        seed=cfg['seed'])
    bboxes, _, _ = clean_proposals(
        boxes,
        np.zeros(len(boxes), np.float32),
        max_num=cfg['max_boxes'],
        min_size=cfg['min_size'],
        img_shape=img.shape[:2],
        nms_iou=cfg['nms_iou'])
    if len(bboxes) == 0:
        raise ValueError(
            f'{where}: Selective Search ({cfg}) found no box of at least '
            f'{cfg["min_size"]} pixels in this {img.shape[1]}x{img.shape[0]} '
            'image')
    return bboxes


def proposal_step(pipeline) -> Optional[dict]:
    """The :class:`LoadOrComputeProposals` step of a pipeline config (a list
    of step dicts; nested ``transforms`` searched too), or None: a pipeline
    that cannot compute proposals (e.g. mmdet's ``LoadProposals`` only)."""
    if isinstance(pipeline, dict):
        if pipeline.get('type') in ('LoadOrComputeProposals',
                                    'mmdet.LoadOrComputeProposals'):
            return pipeline
        pipeline = pipeline.get('transforms') or []
    if isinstance(pipeline, (list, tuple)):
        for step in pipeline:
            found = proposal_step(step)
            if found is not None:
                return found
    return None


@TRANSFORMS.register_module()
class LoadOrComputeProposals(LoadProposals):
    """``proposals`` of the dataset when a sample has them, else computed.

    With ``results['proposals']`` (a dataset with a ``proposal_file``) this
    is mmdet's :class:`LoadProposals`, output for output. Without them (an
    image path or array given to ``DetInferencer``, a dataset without
    ``proposal_file``) they are computed on ``results['img']``, the image as
    loaded (before any resize, so that ``ProposalBroadcaster`` resizes them
    with it), by :func:`compute_proposals` with ``proposal_cfg``:
    ``proposals`` [K, 4] float32 in pixels of the original image and
    ``proposals_scores`` zeros [K], as ``LoadProposals`` leaves them.

    Required keys: ``proposals`` (dict with ``bboxes``, optional
    ``scores``) or ``img``. Added or modified: ``proposals``,
    ``proposals_scores``.

    Args:
        num_max_proposals (int, optional): As ``LoadProposals``: the first so
            many proposals kept (also of computed ones). Defaults to None.
        proposal_cfg (dict, optional): How the training proposals were made
            (see :func:`check_proposal_cfg`), e.g.
            ``dict(type='SelectiveSearch', mode='fast', max_side=192,
            max_boxes=150)``. None: proposals are never computed and a
            sample without them gets an empty set [0, 4] (for a model that
            makes its own, one with an RPN: ``ProposalBroadcaster`` and
            ``PackCSODInputs(require_proposals=True)`` need the key); never
            use None for a model that detects in the given proposals, it
            would find nothing. Defaults to None.
    """

    def __init__(self,
                 num_max_proposals: Optional[int] = None,
                 proposal_cfg: Optional[dict] = None) -> None:
        super().__init__(num_max_proposals=num_max_proposals)
        self.proposal_cfg = check_proposal_cfg(proposal_cfg)

    def transform(self, results: dict) -> dict:
        """Load the sample's proposals, or compute them on its image."""
        if results.get('proposals') is not None:
            return super().transform(results)
        if self.proposal_cfg is None:
            results['proposals'] = np.zeros((0, 4), np.float32)
            results['proposals_scores'] = np.zeros(0, np.float32)
            return results
        where = results.get('img_path') or '<array input>'
        if results.get('img') is None:
            raise KeyError(f'{where}: no proposals and no loaded image to '
                           'compute them on; put LoadOrComputeProposals after '
                           'the image loading step')
        bboxes = compute_proposals(results['img'], self.proposal_cfg, where)
        if self.num_max_proposals is not None:
            bboxes = bboxes[:self.num_max_proposals]
        results['proposals'] = bboxes
        results['proposals_scores'] = np.zeros(len(bboxes), np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_max_proposals='
                f'{self.num_max_proposals}, proposal_cfg={self.proposal_cfg})')
