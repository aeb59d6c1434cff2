"""Every model-zoo entry's ``Epochs`` is what its config trains: a change
to a shared base (Ours+'s schedule, inherited by its ablations) that
leaves a metafile behind fails here."""
import os.path as osp

import pytest
import yaml
from conftest import REPO_ROOT
from mmengine.config import Config

METAFILES = [
    osp.join(REPO_ROOT, d, 'metafile.yml')
    for d in ('configs/csod', 'configs/csod/ablations', 'configs/wsod',
              'configs/fast_rcnn')
]


def _entries():
    for path in METAFILES:
        with open(path) as f:
            for model in yaml.safe_load(f)['Models']:
                if 'Epochs' in model.get('Metadata', {}):
                    yield pytest.param(model, id=model['Name'])


@pytest.mark.parametrize('model', list(_entries()))
def test_metafile_epochs_are_the_configs(model):
    cfg = Config.fromfile(osp.join(REPO_ROOT, model['Config']))
    epochs = cfg.train_cfg.get('max_epochs')
    if epochs is None:
        pytest.skip(f'{model["Config"]} trains by iterations')
    meta = model['Metadata']
    assert meta['Epochs'] == epochs, model['Config']
    assert meta['Schedule'].startswith(f'{epochs} epoch'), model['Config']
