"""tools/misc/visualize_drn.py: the paper's Figure 4 for chosen images."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import pytest
import torch
from conftest import REPO_ROOT
from mmdet.registry import MODELS
from mmengine.config import Config

from mmdet_csod.visualization.drn_figure import GAP


@pytest.mark.parametrize('config, num_panels',
                         [('configs/csod/drn_tiny_synthetic.py', 4),
                          ('configs/csod/ours-wo-scm_tiny_synthetic.py', 3)])
def test_visualize_drn_draws_a_row_of_panels(config, num_panels,
                                             synthetic_root, tmp_path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = str(tmp_path / 'random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    out_dir = tmp_path / 'vis'
    opts = []
    for loader in ('val_dataloader', 'test_dataloader'):
        opts += [
            f'{loader}.dataset.data_root={synthetic_root}',
            f'{loader}.num_workers=0', f'{loader}.persistent_workers=False'
        ]
    proc = subprocess.run([
        sys.executable, 'tools/misc/visualize_drn.py', config, ckpt, '--split',
        'val', '--indices', '0', '1', '--out-dir',
        str(out_dir), '--score-thr', '0.0', '--cfg-options', *opts
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    with open(osp.join(synthetic_root, 'annotations', 'val.json')) as f:
        images = json.load(f)['images'][:2]
    printed = [
        line for line in proc.stdout.splitlines() if line.endswith('.png')
    ]
    assert len(printed) == 2
    for info in images:
        stem = osp.splitext(osp.basename(info['file_name']))[0]
        path = out_dir / f'{stem}.png'
        assert str(path) in printed
        figure = cv2.imread(str(path))
        assert figure is not None, path
        height, width = figure.shape[:2]
        assert width == num_panels * info['width'] + (num_panels - 1) * GAP
        assert info['height'] < height < 1.5 * info['height']  # + titles
        assert figure.std() > 10  # not blank
        # every panel holds the image, not a flat colour
        for k in range(num_panels):
            x0 = k * (info['width'] + GAP)
            panel = figure[height - info['height']:, x0:x0 + info['width']]
            assert panel.std() > 5, (path, k)
