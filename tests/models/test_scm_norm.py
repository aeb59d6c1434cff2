"""The SCM heatmap detector's trunk norm (Ours+) and Ours+'s config."""
import torch
from mmengine.config import Config

from mmdet_csod.models.scm import HeatmapFCOS


def test_trunk_groupnorm_forward_backward():
    torch.manual_seed(0)
    det = HeatmapFCOS(
        in_channels=2, num_convs=3, num_pools=2,
        norm_cfg=dict(type='GN', num_groups=8))
    convs = [m for m in det.trunk if isinstance(m, torch.nn.Conv2d)]
    norms = [m for m in det.trunk if isinstance(m, torch.nn.GroupNorm)]
    assert len(convs) == len(norms) == 3
    assert all(c.bias is None for c in convs)  # the norm's bias replaces it
    cls, reg, ctr = det(torch.rand(3, 2, 30, 42))
    assert cls[0].shape == (3, 1, 8, 11) and reg[0].shape == (3, 4, 8, 11)
    (cls[0].sum() + reg[0].sum() + ctr[0].sum()).backward()
    assert all(c.weight.grad is not None and c.weight.grad.abs().sum() > 0
               for c in convs)
    assert all(n.weight.grad is not None for n in norms)


def test_trunk_without_norm_is_unchanged():
    det = HeatmapFCOS(in_channels=2, num_convs=2, num_pools=1)
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in det.trunk)
    assert all(m.bias is not None for m in det.trunk
               if isinstance(m, torch.nn.Conv2d))


def test_ours_plus_is_ours_with_two_scm_switches_and_pseudo_seeds():
    ours = Config.fromfile('configs/csod/drn_tiny_synthetic.py').model
    plus = Config.fromfile('configs/csod/drn-plus_tiny_synthetic.py').model
    assert ours.get('rec_pseudo_seeds', False) is False
    assert plus.pop('rec_pseudo_seeds') is True
    assert plus.pop('pseudo_off_base_boxes') is True
    assert ours.get('pseudo_off_base_boxes', False) is False
    assert plus.get('rec_scm_base_seeds', False) is False
    assert plus.pop('exclusive_evidence') is True
    assert ours.get('exclusive_evidence', False) is False
    assert ours.get('rec_scm_base_seeds', False) is False
    assert ours.scm.detector.get('norm_cfg') is None
    assert ours.scm.get('max_per_query', 1) == 1
    assert plus.scm.detector.norm_cfg == dict(type='GN', num_groups=8)
    assert plus.scm.max_per_query == 3
    assert plus.scm.detector.test_cfg == dict(max_per_img=3)
    # nothing else differs
    plus.scm.pop('max_per_query')
    plus.scm.pop('min_score_ratio')
    ours.scm.pop('max_per_query', None)
    ours.scm.pop('min_score_ratio', None)
    plus.scm.detector.pop('norm_cfg')
    plus.scm.detector.pop('test_cfg')
    ours.scm.detector.pop('test_cfg', None)
    assert plus.to_dict() == ours.to_dict()


def test_partial_test_cfg_is_merged_over_the_default():
    det = HeatmapFCOS(in_channels=2, test_cfg=dict(max_per_img=3))
    assert det.test_cfg.max_per_img == 3
    assert det.test_cfg.score_thr == 0.05
    assert det.test_cfg.nms == dict(type='nms', iou_threshold=0.5)
    assert HeatmapFCOS(in_channels=2).test_cfg.max_per_img == 1
