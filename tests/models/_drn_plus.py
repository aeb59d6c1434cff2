"""The Ours+ model of the generated data, untrained, and a batch of its
data, and a recorder of what a training step hands to the readers of the
recognition evidence: the shared setup of the tests of the DRN's switches
beyond the paper (``test_drn_plus_switches.py``, ``test_scm_evidence.py``,
``test_exclusive_evidence.py``, ``test_drn_scm_base_seeds.py``)."""
import os.path as osp

from conftest import REPO_ROOT, record_calls, use_data_root
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import set_random_seed

PLUS = osp.join(REPO_ROOT, 'configs', 'csod', 'drn-plus_tiny_synthetic.py')


def plus_cfg(root=None):
    """The Ours+ config, its data at ``root`` when given."""
    cfg = Config.fromfile(PLUS)
    if root is not None:
        use_data_root(cfg, root)
    return cfg


def plus_model(**model_kwargs):
    """The Ours+ model with ``model_kwargs``, untrained (enough for the pure
    methods)."""
    cfg = plus_cfg()
    cfg.model.update(model_kwargs)
    return MODELS.build(cfg.model)


def plus_model_and_batch(root, num=2, split='train_dataloader',
                         **model_kwargs):
    """The Ours+ model with ``model_kwargs`` (weights initialised, seed 0)
    and a collated batch of the first ``num`` samples of ``split`` at
    ``root``."""
    cfg = plus_cfg(root)
    cfg.model.update(model_kwargs)
    ds = DATASETS.build(cfg[split].dataset)
    set_random_seed(0)  # the pipeline's random resize and flip too
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, pseudo_collate([ds[i] for i in range(num)])


def record_evidence_readers(model, monkeypatch):
    """Record, call by call, what a training step of ``model`` hands to the
    readers of the recognition evidence: ``rec`` (``forward_rois``'s
    outputs), the scores given to ``pseudo_box_scores``,
    ``base_scm_boxes``, ``unlabelled_proposals`` and the SCM's loss
    (``scm``); name -> list."""
    seen = dict(rec=record_calls(monkeypatch, model.rec_head,
                                 'forward_rois'))
    for owner, name, key, pos in (
            (model, 'pseudo_box_scores', 'pseudo_box_scores', 1),
            (model, 'base_scm_boxes', 'base_scm_boxes', 1),
            (model, 'unlabelled_proposals', 'unlabelled_proposals', 0),
            (model.scm, 'loss', 'scm', 1)):
        seen[key] = record_calls(monkeypatch, owner, name,
                                 lambda args, kwargs, _, pos=pos: args[pos])
    return seen
