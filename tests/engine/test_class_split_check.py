"""One class split: a dataset whose split differs from the model's is an
error before the first iteration, naming both places and the classes.

The natural edit is ``--cfg-options`` on the training dataset's metainfo
only: ``model.class_split`` was filled from the same metainfo when the
config was parsed, so the two then disagree. Moving a class to novel used to
train to the end with exit 0 (the class got neither boxes nor pseudo
boxes); moving one to base failed at iteration 1 blaming
``supervision='cross'``.
"""
import copy
import os.path as osp

import pytest
from conftest import REPO_ROOT, loader_options, use_data_root
from mmdet.registry import HOOKS
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

CONFIG = 'configs/csod/drn_tiny_synthetic.py'
CLASSES = ('cart', 'bottle', 'sign', 'house', 'kite', 'person', 'horse',
           'lamp', 'fish', 'tree')
ITERS = []


@HOOKS.register_module(force=True)
class _CountIters(Hook):

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        ITERS.append(('train', batch_idx))

    def before_val_iter(self, runner, batch_idx, data_batch=None):
        ITERS.append(('val', batch_idx))

    def before_test_iter(self, runner, batch_idx, data_batch=None):
        ITERS.append(('test', batch_idx))


def _cfg(root, work_dir, config=CONFIG):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    cfg.work_dir = str(work_dir)
    use_data_root(cfg, root)
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 100
    cfg.train_dataloader.dataset.indices = 2
    cfg.train_dataloader.batch_size = 2
    cfg.val_dataloader.dataset.indices = 1
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.default_hooks.checkpoint = None
    # the project's configs replace custom_hooks (these tests too): the
    # check must not live there
    cfg.custom_hooks = [dict(type='_CountIters')]
    ITERS.clear()
    return cfg


def _split(base):
    return dict(
        classes=CLASSES,
        base_classes=tuple(base),
        novel_classes=tuple(c for c in CLASSES if c not in base))


def test_dataset_moves_a_class_to_novel(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path)
    cfg.train_dataloader.dataset.metainfo = _split(CLASSES[:4])  # kite
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as err:
        runner.train()
    msg = str(err.value)
    assert 'train_dataloader.dataset.metainfo' in msg
    assert 'model.class_split' in msg
    assert "'kite'" in msg
    assert 'novel in train_dataloader.dataset.metainfo' in msg
    assert ITERS == []  # before the first iteration


def test_dataset_moves_a_class_to_base(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path)
    cfg.train_dataloader.dataset.metainfo = _split(CLASSES[:6])  # person
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as err:
        runner.train()
    msg = str(err.value)
    assert 'supervision' not in msg  # not the old, wrong cause
    assert 'train_dataloader.dataset.metainfo' in msg
    assert 'model.class_split' in msg
    assert "'person'" in msg and "'kite'" not in msg
    assert ITERS == []


def test_val_dataset_differs(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path)
    cfg.val_dataloader.dataset.metainfo = _split(CLASSES[:3])
    with pytest.raises(ValueError) as err:
        Runner.from_cfg(cfg).train()
    msg = str(err.value)
    assert 'val_dataloader.dataset.metainfo' in msg
    assert "'house'" in msg and "'kite'" in msg
    assert ITERS == []


def test_test_dataset_differs(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path)
    cfg.test_dataloader.dataset.metainfo = _split(CLASSES[:6])
    with pytest.raises(ValueError, match=r'test_dataloader\.dataset') as err:
        Runner.from_cfg(cfg).test()
    assert "'person'" in str(err.value)
    assert ITERS == []


def test_classes_differ(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path)
    swapped = CLASSES[1::-1] + CLASSES[2:]  # bottle, cart, ...
    cfg.train_dataloader.dataset.metainfo = dict(
        classes=swapped, base_classes=CLASSES[:5])
    with pytest.raises(ValueError) as err:
        Runner.from_cfg(cfg).train()
    msg = str(err.value)
    assert 'classes' in msg and 'order' in msg
    assert "'bottle'" in msg and "'cart'" in msg
    assert ITERS == []


def test_same_split_written_differently_trains(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path)
    # novel classes left out (completed from the others), base in another
    # order: the same split
    cfg.train_dataloader.dataset.metainfo = dict(
        classes=CLASSES, base_classes=CLASSES[4::-1])
    Runner.from_cfg(cfg).train()
    assert ITERS == [('train', 0), ('val', 0)]  # trained and validated


def test_models_without_split_compare_the_datasets(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path,
               'configs/fast_rcnn/fast_rcnn_small-vgg_synthetic-base.py')
    cfg.val_dataloader.dataset.metainfo = _split(CLASSES[:4])
    with pytest.raises(ValueError) as err:
        Runner.from_cfg(cfg).train()
    msg = str(err.value)
    assert 'val_dataloader.dataset.metainfo' in msg
    assert 'train_dataloader.dataset.metainfo' in msg
    assert "'kite'" in msg
    assert ITERS == []


def test_concat_dataset_names_its_member(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path)
    member = dict(cfg.train_dataloader.dataset)
    other = dict(member, metainfo=_split(CLASSES[:4]))
    # mmengine's ConcatDataset refuses members whose metainfo differs
    # unless told to ignore keys
    cfg.train_dataloader.dataset = dict(
        type='ConcatDataset',
        datasets=[member, other],
        ignore_keys=['base_classes', 'novel_classes'])
    with pytest.raises(ValueError) as err:
        Runner.from_cfg(cfg).train()
    assert 'train_dataloader.dataset.datasets[1].metainfo' in str(err.value)
    assert ITERS == []


def test_tools_train_cfg_options_edit_fails_early(synthetic_root, tmp_path):
    """The hostile user's edit, through tools/train.py."""
    import subprocess
    import sys
    base = ','.join(CLASSES[:4])
    novel = ','.join(CLASSES[4:])
    proc = subprocess.run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(tmp_path), '--cfg-options',
        f'train_dataloader.dataset.metainfo.base_classes=({base})',
        f'train_dataloader.dataset.metainfo.novel_classes=({novel})',
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=2',
        'train_dataloader.batch_size=2', *loader_options(synthetic_root)
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert 'model.class_split' in out and "'kite'" in out, out[-2000:]
    assert 'Epoch(train)' not in out


def _configs():
    import glob
    return sorted(
        osp.relpath(p, REPO_ROOT)
        for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                           recursive=True) if '_base_' not in p)


@pytest.mark.parametrize('config', _configs())
def test_every_config_declares_one_split(config):
    """What the hook checks at run time, on the configs as written."""
    from mmdet_csod.engine.hooks import check_class_splits
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    entries = []
    model = cfg.model
    if model.get('class_split'):
        entries.append(('model.class_split', model.class_split))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        meta = (cfg.get(loader) or {}).get('dataset', {}).get('metainfo')
        if meta:
            entries.append((f'{loader}.dataset.metainfo', meta))
    check_class_splits(entries)
    assert cfg.default_hooks.class_split_check.type == 'ClassSplitCheckHook'
    assert cfg.default_hooks.checkpoint_fit.type == 'CheckpointFitHook'
