"""Shared fixtures: small datasets written on the fly in the real formats."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
for path in (REPO_ROOT, osp.join(REPO_ROOT, 'tools')):
    if path not in sys.path:
        sys.path.insert(0, path)

import mmdet_csod  # noqa: E402,F401  registers the project's modules
from mmdet.utils import register_all_modules  # noqa: E402

register_all_modules(init_default_scope=True)


def _stand_in_pretrained_backbone() -> str:
    """The small configs' backbones load crop-pretrained weights
    (``CSOD_PRETRAINED``, default checkpoints/small_vgg_crops.pth, made by
    tools/misc/pretrain_backbone.py in minutes). Tests point them at a
    seeded, untrained SmallVGG in the same checkpoint layout instead, so a
    fresh clone needs no pretraining and results do not depend on a local
    checkpoint. Set ``CSOD_TEST_PRETRAINED=1`` to test with the real one.
    """
    import atexit
    import shutil
    import tempfile

    import torch

    from mmdet_csod.models.backbones import SmallVGG
    torch.manual_seed(0)
    state = {f'backbone.{k}': v for k, v in SmallVGG().state_dict().items()}
    folder = tempfile.mkdtemp(prefix='csod_tests_')
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = osp.join(folder, 'small_vgg.pth')
    torch.save(dict(meta=dict(note='seeded SmallVGG for tests'),
                    state_dict=state), path)
    return path


if os.environ.get('CSOD_TEST_PRETRAINED') != '1':
    # subprocesses (tools/train.py etc.) inherit it
    os.environ['CSOD_PRETRAINED'] = _stand_in_pretrained_backbone()

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def loader_options(root):
    """``--cfg-options`` that point every dataloader at ``root``, loading in
    the process (no workers)."""
    opts = []
    for loader in LOADERS:
        opts += [
            f'{loader}.dataset.data_root={root}', f'{loader}.num_workers=0',
            f'{loader}.persistent_workers=False'
        ]
    return opts


def use_data_root(cfg, root):
    """The same on a loaded config."""
    for loader in LOADERS:
        cfg[loader].dataset.data_root = root
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    return cfg


def model_and_batch(config, root, num=2, split='train_dataloader'):
    """The model of ``config`` (a path) built and initialised under seed
    0, and a collated batch of the split's first ``num`` samples of the
    data at ``root`` (the pipeline's random resize and flip under the same
    seed)."""
    from mmdet.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.runner import set_random_seed
    cfg = use_data_root(Config.fromfile(config), root)
    dataset = DATASETS.build(cfg[split].dataset)
    set_random_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, pseudo_collate([dataset[i] for i in range(num)])


def record_calls(monkeypatch, owner, name, pick=None):
    """Wrap ``owner.name`` so that each call still runs and appends
    ``pick(args, kwargs, result)`` (default: the result) to the returned
    list, call by call."""
    call = getattr(owner, name)
    seen = []

    def recording(*args, **kwargs):
        result = call(*args, **kwargs)
        seen.append(result if pick is None else pick(args, kwargs, result))
        return result

    monkeypatch.setattr(owner, name, recording)
    return seen


def run_tool(args):
    """``python ARGS`` from the repository root; fails the test, with the
    output's tail, on a non-zero exit; returns stdout + stderr."""
    proc = subprocess.run([sys.executable, *args],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


CLASSES = ('cat', 'dog', 'horse', 'person')
BASE = ('cat', 'dog')
NOVEL = ('horse', 'person')


class TinyCoco:
    """Writes a COCO json, its images and a proposal file under a folder.

    Images: ``root/imgs/<name>``; json: ``root/ann.json``; proposals:
    ``root/props.npz`` keyed 'imgs/<name>'.
    """

    def __init__(self, root):
        self.root = str(root)
        os.makedirs(osp.join(self.root, 'imgs'), exist_ok=True)
        self.images, self.annotations = [], []
        self.categories = [
            dict(id=10 + i, name=c) for i, c in enumerate(CLASSES)
        ]
        self.proposals = {}

    def add_image(self, name, anns, h=60, w=80, proposals=None, write=True):
        """anns: list of (class name, [x, y, w, h], extra dict)."""
        img_id = len(self.images) + 1
        self.images.append(dict(id=img_id, file_name=name, height=h, width=w))
        cat = {c['name']: c['id'] for c in self.categories}
        for a in anns:
            cls, bbox = a[0], a[1]
            extra = a[2] if len(a) > 2 else {}
            ann = dict(
                id=len(self.annotations) + 1,
                image_id=img_id,
                category_id=cat.get(cls, cls),
                bbox=list(bbox),
                area=bbox[2] * bbox[3],
                iscrowd=0)
            ann.update(extra)
            self.annotations.append(ann)
        if write:
            import cv2
            rng = np.random.default_rng(img_id)
            cv2.imwrite(
                osp.join(self.root, 'imgs', name),
                rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        if proposals is None:
            proposals = np.array(
                [[0, 0, w / 2, h / 2], [w / 4, h / 4, w, h], [0, 0, w, h]],
                np.float32)
        self.proposals['imgs/' + name] = (np.asarray(proposals,
                                                     np.float32), None)
        return img_id

    def write(self):
        from mmdet_csod.datasets import save_proposals
        with open(osp.join(self.root, 'ann.json'), 'w') as f:
            json.dump(
                dict(
                    images=self.images,
                    annotations=self.annotations,
                    categories=self.categories), f)
        save_proposals(osp.join(self.root, 'props.npz'), self.proposals)
        return self

    def dataset(self, **kwargs):
        from mmdet_csod.datasets import CSODCocoDataset
        cfg = dict(
            data_root=self.root,
            ann_file='ann.json',
            data_prefix=dict(img='imgs/'),
            proposal_file='props.npz',
            metainfo=dict(
                classes=CLASSES, base_classes=BASE, novel_classes=NOVEL),
            pipeline=[])
        cfg.update(kwargs)
        return CSODCocoDataset(**cfg)


@pytest.fixture
def tiny_coco(tmp_path):
    return TinyCoco(tmp_path)


def make_synthetic(out, num_train, num_val, seed, workers=1):
    """Generate a small data set into ``out`` with the project's CLI
    (tools/dataset_converters/make_synthetic.py); returns ``out``."""
    import subprocess
    subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools/dataset_converters/make_synthetic.py'),
        '--out', str(out), '--num-train', str(num_train), '--num-val',
        str(num_val), '--seed', str(seed), '--workers', str(workers),
        '--quiet'
    ],
                   check=True,
                   cwd=REPO_ROOT,
                   stdout=subprocess.DEVNULL)
    return str(out)


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """A small generated dataset, made once per test session by the CLI."""
    out = tmp_path_factory.mktemp('synthetic')
    return make_synthetic(out, 24, 8, seed=3, workers=2) + '/'


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: small models and convs run far
    faster so than on cores other jobs share (``pytestmark =
    pytest.mark.usefixtures('one_thread')`` for a whole module)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_tool(path, name=None):
    """The script at ``path`` (relative to the repository root) as a module,
    loaded from its file under ``name`` (default: the file's stem)."""
    import importlib.util
    name = name or osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO_ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_cli(name):
    """A tools/dataset_converters script as a module (its ``main(argv)``),
    loaded from its file."""
    return load_tool(osp.join('tools', 'dataset_converters', f'{name}.py'),
                     f'cli_{name}')
