"""The README's tutorial "Add a class from tagged images", end to end on a
tiny generated set (12 train / 4 val images, CPU): the same commands, run
as subprocesses, with the tutorial's paths moved to a temporary folder and
a training run of one short epoch. Also the exporter's options and errors
(mmdet_csod/synthetic/export.py)."""
import csv
import json
import os
import os.path as osp

import pytest
import torch
from conftest import run_tool

from mmdet_csod.synthetic.export import export_sources

CONFIG = 'configs/csod/drn_tiny_tagged-sources.py'
BASE = ('cart', 'bottle', 'sign', 'house', 'kite')
NOVEL = ('person', 'horse')
OTHERS = ('lamp', 'fish', 'tree')  # generated, in neither source


def _loader_options(sources, synthetic):
    """The tutorial's data roots moved: training on the merged sources,
    evaluation on the generated val set; loading in the process."""
    opts = [f'train_dataloader.dataset.data_root={sources}/']
    for loader in ('val_dataloader', 'test_dataloader'):
        opts.append(f'{loader}.dataset.data_root={synthetic}/')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [
            f'{loader}.num_workers=0', f'{loader}.persistent_workers=False'
        ]
    return opts


@pytest.fixture(scope='module')
def tutorial(tmp_path_factory):
    """Every command of the tutorial, in its order; ``{name: path}``."""
    tmp = tmp_path_factory.mktemp('tutorial')
    syn, src = str(tmp / 'synthetic'), str(tmp / 'tagged_sources')
    unseen, work = str(tmp / 'unseen'), str(tmp / 'work')
    infer_dir = str(tmp / 'infer')
    conv = 'tools/dataset_converters/'
    out = {}
    out['make'] = run_tool([
        conv + 'make_synthetic.py', '--out', syn, '--num-train', '12',
        '--num-val', '4', '--workers', '1', '--quiet'
    ])
    out['export'] = run_tool(
        [conv + 'export_synthetic_sources.py', syn, '--out', src])
    out['folders'] = run_tool([
        conv + 'class_folders_to_coco.py', f'{src}/tagged', '--out',
        f'{src}/annotations/tagged.json'
    ])
    out['csv'] = run_tool([
        conv + 'openimages_labels_to_coco.py', f'{src}/oi/image-labels.csv',
        f'{src}/oi/class-descriptions.csv', '--image-dir', f'{src}/oi/train',
        '--out', f'{src}/annotations/oi.json'
    ])
    out['merge'] = run_tool([
        conv + 'merge_coco.py', '--boxes', f'{src}/coco/annotations/base.json',
        f'{src}/coco/images', '--tags', f'{src}/annotations/tagged.json',
        f'{src}/tagged', '--tags', f'{src}/annotations/oi.json',
        f'{src}/oi/train', '--data-root', src, '--out',
        f'{src}/annotations/train.json'
    ])
    out['proposals'] = run_tool([
        conv + 'selective_search.py', '--ann', f'{src}/annotations/train.json',
        '--img-prefix', src, '--out', f'{src}/proposals/ss_train.npz',
        '--max-side', '192', '--no-progress'
    ])
    loaders = _loader_options(src, syn)
    out['check'] = run_tool(
        ['tools/misc/check_data.py', CONFIG, '--cfg-options', *loaders])
    out['train'] = run_tool([
        'tools/train.py', CONFIG, '--work-dir', work, '--cfg-options',
        *loaders, 'train_cfg.max_epochs=1', 'train_dataloader.batch_size=2',
        'custom_hooks.1.num_images=4', 'default_hooks.logger.interval=2'
    ])
    out['unseen'] = run_tool([
        conv + 'make_synthetic.py', '--out', unseen, '--num-train', '1',
        '--num-val', '1', '--seed', '1', '--workers', '1', '--quiet'
    ])
    image = osp.join(unseen, 'val', '000000.jpg')
    out['infer'] = run_tool([
        'tools/infer.py', CONFIG,
        osp.join(work, 'epoch_1.pth'), image, '--out-dir', infer_dir,
        '--device', 'cpu'
    ])
    out.update(
        synthetic=syn, sources=src, work=work, infer_dir=infer_dir,
        image=image)
    return out


def _load(path):
    with open(path) as f:
        return json.load(f)


def test_sources_in_their_formats(tutorial):
    src = tutorial['sources']
    base = _load(f'{src}/coco/annotations/base.json')
    assert [c['name'] for c in base['categories']] == list(BASE)
    base_ids = {c['id'] for c in base['categories']}
    assert base['annotations'] and all(a['category_id'] in base_ids
                                       for a in base['annotations'])
    assert sorted(os.listdir(f'{src}/tagged')) == sorted(NOVEL)
    with open(f'{src}/oi/image-labels.csv') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['ImageID', 'Source', 'LabelName', 'Confidence']
    assert {r[3] for r in rows[1:]} <= {'0', '1'} and len(rows) > 1
    with open(f'{src}/oi/class-descriptions.csv') as f:
        names = dict(csv.reader(f))
    assert sorted(names.values()) == sorted(NOVEL)
    # no image in two sources
    summary = _load(f'{src}/export.json')
    folder_files = {
        n for c in NOVEL for n in os.listdir(f'{src}/tagged/{c}')
    }
    csv_files = set(os.listdir(f'{src}/oi/train'))
    box_files = {im['file_name'] for im in base['images']}
    assert not (box_files & folder_files or box_files & csv_files
                or folder_files & csv_files)
    assert summary['box_json']['images'] == len(box_files)


def test_merged_json_has_no_novel_box_and_novel_image_labels(tutorial):
    merged = _load(f'{tutorial["sources"]}/annotations/train.json')
    names = {c['id']: c['name'] for c in merged['categories']}
    assert sorted(names.values()) == sorted(BASE + NOVEL)
    boxed = {names[a['category_id']] for a in merged['annotations']}
    assert boxed and boxed <= set(BASE)  # no novel box, no other class
    tagged = {
        names[i]
        for im in merged['images'] for i in im.get('image_labels', [])
    }
    assert set(NOVEL) <= tagged
    # the box images do not know the novel classes: unknown, not absent
    box_images = [im for im in merged['images'] if
                  im['file_name'].startswith('coco/')]
    assert box_images and all(
        im.get('unlabeled') == 'ignore' for im in box_images)
    assert 'train.json' in tutorial['merge'] and 'person' in tutorial['merge']
    assert 'OK' in tutorial['check']


def test_training_writes_a_checkpoint_of_the_split(tutorial):
    ckpt = osp.join(tutorial['work'], 'epoch_1.pth')
    assert osp.isfile(ckpt)
    meta = torch.load(ckpt, map_location='cpu', weights_only=True)['meta']
    assert tuple(meta['dataset_meta']['novel_classes']) == NOVEL
    assert tuple(meta['dataset_meta']['base_classes']) == BASE
    assert 'Epoch(train) [1]' in tutorial['train']


def test_infer_writes_predictions_and_a_picture(tutorial):
    import cv2
    folder = tutorial['infer_dir']
    preds = _load(osp.join(folder, 'preds', '000000.json'))
    assert len(preds['labels']) == len(preds['scores']) == len(
        preds['bboxes'])
    assert tuple(preds['classes']) == BASE + NOVEL
    vis = cv2.imread(osp.join(folder, 'vis', '000000.jpg'))
    assert vis is not None
    assert vis.shape == cv2.imread(tutorial['image']).shape


def test_export_options_and_errors(tutorial, tmp_path):
    syn = tutorial['synthetic']
    summary = export_sources(
        syn,
        str(tmp_path / 'out'),
        box_classes=BASE + OTHERS,
        folder_classes=['person'],
        csv_classes=['horse'],
        shares=(1, 1, 0),
        link='symlink')
    assert summary['csv']['images'] == 0
    assert os.listdir(tmp_path / 'out' / 'tagged') == ['person']
    first = tmp_path / 'out' / 'coco' / 'images' / '000000.jpg'
    assert first.is_symlink()
    assert osp.samefile(first, osp.join(syn, 'train', '000000.jpg'))
    base = _load(tmp_path / 'out' / 'coco' / 'annotations' / 'base.json')
    assert len(base['categories']) == 8
    # without negatives, only present classes get a row
    summary = export_sources(
        syn, str(tmp_path / 'pos'), BASE, NOVEL, NOVEL, shares=(0, 0, 1),
        csv_negative_share=0.0)
    assert all(n['absent'] == 0 for n in summary['csv']['labels'].values())
    with pytest.raises(ValueError, match="unknown class.*'zebra'"):
        export_sources(syn, str(tmp_path / 'x'), BASE, ['zebra'], NOVEL)
    with pytest.raises(ValueError, match='both boxed and tagged'):
        export_sources(syn, str(tmp_path / 'x'), BASE + ('person', ), NOVEL,
                       NOVEL)
    with pytest.raises(ValueError, match='shares'):
        export_sources(syn, str(tmp_path / 'x'), BASE, NOVEL, NOVEL,
                       shares=(0, 0, 0))
    with pytest.raises(FileNotFoundError, match='make_synthetic'):
        export_sources(str(tmp_path), str(tmp_path / 'x'), BASE, NOVEL,
                       NOVEL)
