"""tools/analysis_tools/diagnose_drn.py on the generated data with an
untrained DRN."""
import json
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT, loader_options, run_tool
from mmdet.registry import MODELS
from mmengine.config import Config

from mmdet_csod.evaluation.stage_diagnostics import CONFIGS, FIGURES, GROUPS

TOOL = 'tools/analysis_tools/diagnose_drn.py'
PERCENT = ('corloc', 'mean_iou', 'fallback', 'ap50')


def _random_checkpoint(config, path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return model


def check_layout(stages, expected_stages):
    """Every stage x group x config holds its figures, each in range;
    None exactly where no pair was measured."""
    assert list(stages) == expected_stages
    for stage, groups in stages.items():
        assert list(groups) == list(GROUPS)
        for group, configs in groups.items():
            assert list(configs) == list(CONFIGS)
            for config, figs in configs.items():
                where = (stage, group, config)
                assert sorted(figs) == sorted(FIGURES[stage]), where
                n = figs['count']
                assert isinstance(n, int) and n >= 0, where
                for name, value in figs.items():
                    if name == 'count':
                        continue
                    if n == 0:
                        assert value is None, (where, name)
                        continue
                    if name == 'area_ratio' and stage in ('det', 'pseudo'):
                        # None when no measured pair got a box
                        if value is None:
                            continue
                    assert math.isfinite(value), (where, name)
                    if name in PERCENT:
                        assert 0 <= value <= 100, (where, name, value)
                    else:  # boxes_per_pair, area_ratio
                        assert value >= 0, (where, name, value)
            # touching and free split the pairs
            assert configs['touching']['count'] + configs['free'][
                'count'] == configs['all']['count']


@pytest.mark.parametrize('config, stages', [
    ('configs/csod/drn_tiny_synthetic.py',
     ['mil', 'rec', 'scm', 'pseudo', 'det']),
    ('configs/csod/ours-wo-scm_tiny_synthetic.py',
     ['mil', 'rec', 'pseudo', 'det']),
])
def test_diagnose_drn_writes_every_figure(config, stages, synthetic_root,
                                          tmp_path):
    ckpt = str(tmp_path / 'random.pth')
    model = _random_checkpoint(config, ckpt)
    out = str(tmp_path / 'diag.json')
    log = run_tool([
        TOOL, config, ckpt, '--split', 'train', '--num-images', '5', '--out',
        out, '--device', 'cpu', '--cfg-options',
        *loader_options(synthetic_root)
    ])
    assert '| stage' in log and 'touching' in log
    with open(out) as f:
        result = json.load(f)
    assert sorted(result) == ['checkpoint', 'config', 'num_images',
                              'per_class', 'split', 'stages']
    # per class: the same stages, keyed by class name
    assert sorted(result['per_class']) == sorted(result['stages'])
    for by_class in result['per_class'].values():
        assert by_class and all(
            isinstance(name, str) and 0 <= f['corloc'] <= 100
            for name, f in by_class.items())
    assert (result['config'], result['checkpoint'], result['split'],
            result['num_images']) == (config, ckpt, 'train', 5)
    check_layout(result['stages'], stages)
    s = result['stages']
    # the generated images have base and novel objects, some touching
    assert s['det']['base']['all']['count'] > 0
    assert s['det']['novel']['all']['count'] > 0
    assert s['det']['novel']['touching']['count'] > 0
    # every stage's pairs are the classes it boxes
    assert s['pseudo']['base']['all']['count'] == 0
    assert s['pseudo']['novel']['all']['count'] == s['det']['novel']['all'][
        'count']
    rec_base = s['rec']['base']['all']['count']
    # the MIL stream boxes the classes the refinement boxes
    for group in ('base', 'novel'):
        assert s['mil'][group]['all']['count'] == s['rec'][group]['all'][
            'count']
    if model.rec_classes == 'all':
        assert rec_base == s['det']['base']['all']['count']
        assert s['scm']['novel']['all']['count'] == s['det']['novel'][
            'all']['count']
    else:
        assert rec_base == 0
    # one pseudo box per novel class present
    assert s['pseudo']['novel']['all']['boxes_per_pair'] == 1.0


def test_diagnose_drn_refuses_a_model_that_is_not_a_drn(tmp_path):
    proc = subprocess.run([
        sys.executable, TOOL,
        'configs/fast_rcnn/fast_rcnn_small-vgg_synthetic-base.py',
        str(tmp_path / 'none.pth')
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert 'not a DRN' in proc.stderr
