"""Detection on any image: mmdet's DetInferencer with the project's configs
(paths, arrays, folders; proposals computed on the fly) and tools/infer.py
(end to end, a published checkpoint on a machine without the dataset, its
errors). The checkpoints are untrained: built from the config and saved,
only the plumbing is under test."""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from mmdet.apis import DetInferencer
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import save_checkpoint

import infer
from model_converters.publish_model import publish

CONFIGS = dict(
    drn='configs/csod/drn_tiny_synthetic.py',
    wsod='configs/wsod/oicr_small-vgg_synthetic.py',
    rpn='configs/csod/drn-rpn_tiny_synthetic.py')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _config(name, data_root=None):
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIGS[name]))
    if data_root is not None:
        for loader in LOADERS:
            cfg[loader].dataset.data_root = data_root
    return cfg


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """``{name: path}``: each config's model, seeded, saved with the meta a
    training run writes (dataset_meta, experiment_name); 'bare' is the DRN
    without any meta."""
    folder = tmp_path_factory.mktemp('ckpts')
    paths = {}
    for name in CONFIGS:
        cfg = _config(name)
        torch.manual_seed(0)
        with DefaultScope.overwrite_default_scope('mmdet'):
            model = MODELS.build(cfg.model)
        meta = dict(
            dataset_meta=dict(cfg.train_dataloader.dataset.metainfo),
            experiment_name=f'{name}_run')
        paths[name] = str(folder / f'{name}.pth')
        save_checkpoint(
            dict(meta=meta, state_dict=model.state_dict()), paths[name])
        if name == 'drn':
            paths['bare'] = str(folder / 'bare.pth')
            save_checkpoint(dict(state_dict=model.state_dict()), paths['bare'])
    return paths


@pytest.fixture(scope='module')
def images(synthetic_root, tmp_path_factory):
    """A folder of two generated val images (a.jpg, b.jpg) and a text file,
    and c.png in another folder: images the models were never given."""
    root = tmp_path_factory.mktemp('images')
    os.makedirs(root / 'imgs')
    os.makedirs(root / 'more')
    for src, dst in (('000003.jpg', 'imgs/a.jpg'), ('000004.jpg',
                                                    'imgs/b.jpg')):
        shutil.copy(osp.join(synthetic_root, 'val', src), root / dst)
    img = cv2.imread(osp.join(synthetic_root, 'val', '000005.jpg'))
    cv2.imwrite(str(root / 'more' / 'c.png'), img[:150, :200])
    (root / 'imgs' / 'notes.txt').write_text('not an image')
    return root


def _same(p, q):
    assert p['labels'] == q['labels']
    np.testing.assert_allclose(p['scores'], q['scores'], rtol=1e-5)
    np.testing.assert_allclose(p['bboxes'], q['bboxes'], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize('name', ['drn', 'wsod'])
def test_detinferencer_on_path_array_and_folder(name, checkpoints, images,
                                                tmp_path):
    nowhere = str(tmp_path / 'no_data') + '/'
    inferencer = DetInferencer(
        model=_config(name, nowhere),
        weights=checkpoints[name],
        device='cpu',
        show_progress=False)
    assert inferencer.model.dataset_meta['classes'][5] == 'person'
    path = str(images / 'imgs' / 'a.jpg')
    by_path = inferencer(path)['predictions'][0]
    img = cv2.imread(path)
    h, w = img.shape[:2]
    n = len(by_path['labels'])
    assert n > 0 and len(by_path['scores']) == len(by_path['bboxes']) == n
    boxes = np.array(by_path['bboxes'])
    assert (boxes >= -1e-3).all()
    assert (boxes[:, 0::2] <= w + 1e-3).all()
    assert (boxes[:, 1::2] <= h + 1e-3).all()
    # the same pixels as an array (mmdet's LoadImageFromNDArray): the same
    # proposals are computed, so the same detections
    a, b = inferencer.pipeline(path), inferencer.pipeline(img)
    assert torch.equal(a['inputs'], b['inputs'])
    assert torch.equal(a['data_samples'].proposals.bboxes,
                       b['data_samples'].proposals.bboxes)
    _same(inferencer(img)['predictions'][0], by_path)
    by_folder = inferencer(str(images / 'imgs'))['predictions']
    assert len(by_folder) == 2  # a.jpg, b.jpg (in the folder's order, not
    # sorted); notes.txt is no image
    by_b = inferencer(str(images / 'imgs' / 'b.jpg'))['predictions'][0]
    first_is_a = by_folder[0]['scores'] == by_path['scores']
    _same(by_folder[0], by_path if first_is_a else by_b)
    _same(by_folder[1], by_b if first_is_a else by_path)
    assert not osp.exists(nowhere)


def test_detinferencer_with_the_config_file(checkpoints, images):
    """The call as mmdet documents it: the config path, the checkpoint."""
    inferencer = DetInferencer(
        model=osp.join(REPO_ROOT, CONFIGS['drn']),
        weights=checkpoints['drn'],
        device='cpu',
        show_progress=False)
    pred = inferencer(str(images / 'more' / 'c.png'))['predictions'][0]
    assert len(pred['labels']) > 0


def test_rpn_variant_computes_no_proposals(checkpoints, images, tmp_path,
                                           monkeypatch):
    calls = []

    def no_search(*args, **kwargs):
        calls.append(1)
        raise RuntimeError('Selective Search called')

    monkeypatch.setattr(
        'mmdet_csod.datasets.transforms.loading.selective_search', no_search)
    nowhere = str(tmp_path / 'no_data') + '/'
    path = str(images / 'imgs' / 'b.jpg')
    rpn = DetInferencer(
        model=_config('rpn', nowhere),
        weights=checkpoints['rpn'],
        device='cpu',
        show_progress=False)
    pred = rpn(path)['predictions'][0]
    assert len(pred['labels']) == len(pred['bboxes'])
    assert calls == []
    # the DRN on Selective Search does call it (the patch is effective)
    drn = DetInferencer(
        model=_config('drn', nowhere),
        weights=checkpoints['drn'],
        device='cpu',
        show_progress=False)
    with pytest.raises(RuntimeError, match='Selective Search called'):
        drn(path)
    assert calls == [1]


def _run_infer(args, cwd):
    proc = subprocess.run(
        [sys.executable,
         osp.join(REPO_ROOT, 'tools', 'infer.py'), *args],
        cwd=cwd,
        capture_output=True,
        text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _check_outputs(out, names, classes):
    for name in names:
        stem = osp.splitext(name)[0]
        with open(osp.join(out, 'preds', stem + '.json')) as f:
            pred = json.load(f)
        assert {'labels', 'scores', 'bboxes', 'label_names',
                'classes'} <= set(pred)
        assert pred['classes'] == list(classes)
        assert pred['label_names'] == [classes[i] for i in pred['labels']]
        assert len(pred['bboxes']) == len(pred['scores']) > 0
        vis = cv2.imread(osp.join(out, 'vis', name))
        assert vis is not None and vis.ndim == 3


def test_infer_tool_end_to_end(checkpoints, images):
    """Folder + glob in, preds/ and vis/ out, run where no dataset is."""
    cwd = str(images)
    log = _run_infer([
        osp.join(REPO_ROOT, CONFIGS['drn']), checkpoints['drn'], 'imgs',
        'more/*.png', '--out-dir', 'out', '--score-thr', '0.01', '--device',
        'cpu', '--cfg-options', 'model.test_cfg.rcnn.max_per_img=7'
    ], cwd)
    assert '3 image(s)' in log and 'a.jpg: ' in log
    classes = _config('drn').metainfo['classes']
    _check_outputs(str(images / 'out'), ['a.jpg', 'b.jpg', 'c.png'], classes)
    assert sorted(os.listdir(images / 'out' /
                             'preds')) == ['a.json', 'b.json', 'c.json']
    with open(images / 'out' / 'preds' / 'a.json') as f:
        assert len(json.load(f)['labels']) == 7  # the --cfg-options' 7
    assert not osp.exists(images / 'data')


def test_published_checkpoint_on_a_machine_without_data(
        checkpoints, images, tmp_path):
    """Published with its config, then run with the checkpoint alone (no
    CONFIG) in a folder holding nothing but it and an image."""
    machine = tmp_path / 'machine'
    os.makedirs(machine)
    published = publish(checkpoints['drn'], str(machine / 'drn'),
                        osp.join(REPO_ROOT, CONFIGS['drn']))
    meta = torch.load(published, weights_only=True)['meta']
    cfg = _config('drn')
    assert meta['proposal_cfg'] == dict(cfg.proposal_cfg)
    assert meta['dataset_meta']['novel_classes'] == tuple(
        cfg.metainfo['novel_classes'])
    assert 'LoadOrComputeProposals' in meta['cfg']
    shutil.copy(images / 'more' / 'c.png', machine / 'my.png')
    _run_infer([osp.basename(published), 'my.png', '--out-dir', 'out'],
               str(machine))
    _check_outputs(str(machine / 'out'), ['my.png'], cfg.metainfo['classes'])
    assert sorted(os.listdir(machine)) == sorted(
        [osp.basename(published), 'my.png', 'out'])


def _cli_error(args, capsys):
    with pytest.raises(SystemExit) as exc:
        infer.cli(args)
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ')
    return err


def test_infer_errors_are_one_clear_line(checkpoints, images, tmp_path,
                                         capsys):
    drn = osp.join(REPO_ROOT, CONFIGS['drn'])
    out = ['--out-dir', str(tmp_path / 'out')]
    missing = str(images / 'nothing.jpg')
    err = _cli_error([drn, checkpoints['drn'], missing, *out], capsys)
    assert missing in err and 'input not found' in err
    fake = tmp_path / 'fake.jpg'
    fake.write_text('plain text, not a JPEG')
    err = _cli_error([drn, checkpoints['drn'], str(fake), *out], capsys)
    assert str(fake) in err and 'not an image' in err
    err = _cli_error(
        [drn, checkpoints['drn'],
         str(tmp_path / 'none-*.png'), *out], capsys)
    assert 'matches no image file' in err
    # another model's checkpoint: named keys, the run, the way out
    err = _cli_error(
        [drn, checkpoints['wsod'],
         str(images / 'imgs' / 'a.jpg'), *out], capsys)
    assert checkpoints['wsod'] in err and 'does not fit' in err
    assert 'wsod_run' in err and '--allow-partial' in err
    err = _cli_error(
        [drn,
         str(tmp_path / 'no.pth'),
         str(images / 'imgs' / 'a.jpg'), *out], capsys)
    assert 'no.pth (CHECKPOINT) not found' in err
    not_ckpt = tmp_path / 'list.pth'
    torch.save([1, 2], not_ckpt)
    err = _cli_error(
        [drn, str(not_ckpt),
         str(images / 'imgs' / 'a.jpg'), *out], capsys)
    assert f'{not_ckpt}: no state_dict' in err
    # no CONFIG and a checkpoint without config text
    err = _cli_error(
        [checkpoints['drn'],
         str(images / 'imgs' / 'a.jpg'), *out], capsys)
    assert 'carries no config text' in err
    assert not osp.exists(tmp_path / 'out')


def test_checkpoint_config_that_cannot_compute_proposals(checkpoints):
    cfg = _config('drn')
    text = cfg.pretty_text.replace("type='LoadOrComputeProposals'",
                                   "type='LoadProposals'")
    assert text != cfg.pretty_text
    with pytest.raises(infer.InferError, match='LoadProposals'):
        infer.resolve_config(None, dict(meta=dict(cfg=text)), 'old.pth')


def test_other_proposal_settings_warn(checkpoints):
    meta = dict(proposal_cfg=dict(type='SelectiveSearch', max_side=100))
    with pytest.warns(UserWarning, match='records the proposals'):
        infer.resolve_config(
            osp.join(REPO_ROOT, CONFIGS['drn']), dict(meta=meta), 'x.pth')


@pytest.mark.parametrize('bare_state_dict', [False, True])
def test_checkpoint_without_class_names_uses_the_configs(
        checkpoints, images, tmp_path, bare_state_dict):
    cfg = _config('drn')
    path = checkpoints['bare']
    if bare_state_dict:  # the state dict alone, as torch.save writes it
        path = str(tmp_path / 'state_dict.pth')
        torch.save(torch.load(checkpoints['bare'])['state_dict'], path)
    ckpt = infer.load_checkpoint(path)
    with pytest.warns(UserWarning, match='carries no class names'):
        inferencer = infer.make_inferencer(
            cfg, 'drn config', ckpt, path, 'cpu', show_progress=False)
    assert inferencer.model.dataset_meta['classes'] == cfg.metainfo.classes
    pred = inferencer(str(images / 'imgs' / 'a.jpg'))['predictions'][0]
    assert set(pred['label_names']) <= set(cfg.metainfo.classes)


ALL_CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT) for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


@pytest.mark.parametrize('config', ALL_CONFIGS)
def test_every_configs_inference_pipeline_takes_an_array(config):
    """The test pipeline of every project config as DetInferencer builds it
    (mmdet's own _init_pipeline) on an image array: proposals computed,
    except for a model with an RPN (none, and none needed)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    pipeline = DetInferencer._init_pipeline(
        DetInferencer.__new__(DetInferencer), cfg)
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(
        rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), (5, 5), 0)
    sample = pipeline(img)['data_samples']
    with_rpn = cfg.model.get('rpn_head') is not None
    assert (len(sample.proposals) == 0) == with_rpn
    assert sample.ori_shape == (48, 64)
