"""tools/analysis_tools/model_zoo.py on the real metafiles and tmp copies."""
import json
import shutil
from pathlib import Path

import pytest
import yaml
from analysis_tools import model_zoo
from conftest import REPO_ROOT

README = """# x

## Model zoo

<!-- model-zoo:start -->
stale
<!-- model-zoo:end -->

## Layout
"""


@pytest.fixture
def tree(tmp_path):
    """A copy of the three config folders and a README with markers."""
    for folder in model_zoo.CONFIG_DIRS:
        shutil.copytree(Path(REPO_ROOT) / folder, tmp_path / folder)
    (tmp_path / 'README.md').write_text(README)
    shutil.copy(Path(REPO_ROOT) / 'model-index.yml', tmp_path)
    # publishing reads the configs, which inherit from _base_
    shutil.copytree(Path(REPO_ROOT) / 'configs/_base_',
                    tmp_path / 'configs/_base_')
    return tmp_path


def _models(root):
    metas = model_zoo.load_all(root)
    return {m['Name']: m for _, m in model_zoo.iter_models(metas)}


def _bench(root):
    stem = 'configs/csod/'
    runs = [
        dict(
            method='ours',
            config=stem + 'drn_tiny_synthetic.py',
            seed=1,
            status='ok',
            checkpoint='work_dirs/b/ours-99999999.pth'),
        dict(
            method='ours',
            config=stem + 'drn_tiny_synthetic.py',
            seed=0,
            status='ok',
            checkpoint='work_dirs/a/ours-1a2b3c4d.pth',
            extra_key=[1, 2]),
        dict(
            method='finetune',
            seed=0,
            status='ok',
            config=stem + 'finetune-stage2_tiny_synthetic.py'),
    ]

    def stat(mean, std):
        return dict(mean=mean, std=std)

    ours = dict(
        config=stem + 'drn_tiny_synthetic.py',
        n=2,
        base_mAP50=stat(96.31, 0.42),
        novel_mAP50=stat(12.04, 1.5),
        novel_corloc=stat(30.1, 2.0),
        train_time_s=stat(300.24, 9.0),
        peak_mem_mib=stat(1800.4, 3.0),
        unknown=stat(1, 1))
    finetune = dict(
        config=stem + 'finetune-stage2_tiny_synthetic.py',
        n=1,
        base_mAP50=stat(90.0, 0.0),
        novel_mAP50=stat(5.0, 0.0),
        novel_corloc=stat(8.0, 0.0))
    # a benchmarked config that carries paper rows: left as it is
    paper = dict(
        config=stem + 'drn_vgg16_voc07.py',
        n=1,
        base_mAP50=stat(1.0, 0.0),
        novel_mAP50=stat(1.0, 0.0))
    bench = dict(
        runs=runs,
        methods=dict(ours=ours, finetune=finetune, vgg=paper),
        command='x',
        git_commit='abc',
        date='2026-01-01')
    path = root / 'table1.json'
    path.write_text(json.dumps(bench))
    return path


def test_real_metafiles_pass_check():
    assert model_zoo.check(REPO_ROOT) == []


def test_real_metafiles_are_canonical():
    # a run of the tool without a benchmark rewrites no byte of them
    for path in model_zoo.find_metafiles(REPO_ROOT):
        text = path.read_text(encoding='utf-8')
        header, data = model_zoo.load_metafile(path)
        assert model_zoo.format_metafile(header, data) == text, path


def test_config_without_entry_is_reported(tree, capsys):
    extra = tree / 'configs/csod/ablations/drn_tiny_synthetic_new.py'
    extra.write_text("_base_ = '../drn_tiny_synthetic.py'\n")
    problems = model_zoo.check(tree)
    assert problems == [
        'configs/csod/ablations/drn_tiny_synthetic_new.py: no model entry '
        'in any metafile'
    ]
    assert model_zoo.main(['--check', '--root', str(tree)]) == 1
    assert 'drn_tiny_synthetic_new.py' in capsys.readouterr().err


def test_broken_entries_are_reported(tree):
    path = tree / 'configs/wsod/metafile.yml'
    header, data = model_zoo.load_metafile(path)
    data['Models'][0]['Config'] = 'configs/wsod/missing.py'
    data['Models'][1]['Name'] = data['Models'][2]['Name']
    del data['Models'][3]['Metadata']['Backbone']
    path.write_text(model_zoo.format_metafile(header, data))
    text = '\n'.join(model_zoo.check(tree))
    assert 'Config configs/wsod/missing.py does not exist' in text
    assert 'repeats one in' in text
    assert "Metadata lacks ['Backbone']" in text
    assert 'oicr_small-vgg_synthetic.py: no model entry' in text


def test_update_writes_numbers_and_is_idempotent(tree):
    before = _models(tree)
    bench = _bench(tree)
    changed = model_zoo.update(tree, bench)
    assert tree / 'README.md' in changed
    after = _models(tree)

    ours = after['drn_tiny_synthetic']
    assert ours['Metadata']['Training Memory (MiB)'] == 1800
    assert ours['Weights'] == 'ours-1a2b3c4d.pth'
    (result, ) = ours['Results']
    assert result['Dataset'] == 'synthetic CSOD (generated)'
    assert result['Source'] == 'benchmark'
    assert result['Metrics'] == {
        'base AP50': 96.3,
        'novel AP50': 12.0,
        'novel CorLoc': 30.1,
        'train time (min)': 5.0
    }
    assert result['Benchmark']['File'] == 'table1.json'
    finetune = after['finetune-stage2_tiny_synthetic']
    assert finetune['Results'][0]['Metrics']['novel AP50'] == 5.0
    assert finetune['Weights'] is None
    # every other entry, paper rows included, is as it was
    for name in set(before) - {
            'drn_tiny_synthetic', 'finetune-stage2_tiny_synthetic'
    }:
        assert after[name] == before[name], name

    readme = (tree / 'README.md').read_text()
    assert 'stale' not in readme
    backbone = ours['Metadata']['Backbone']  # as the metafile has it
    assert (f'| Ours | {backbone} | Selective Search | 2 epochs | '
            '96.3 \u00b1 0.4 | 12.0 \u00b1 1.5 | 30.1 \u00b1 2.0 | '
            '[drn_tiny_synthetic](configs/csod/drn_tiny_synthetic.py) | '
            '`ours-1a2b3c4d.pth` |') in readme
    assert '| 72.9 (paper) | 55.1 (paper) |' in readme
    assert readme.index('synthetic CSOD') < readme.index('PASCAL VOC')
    assert readme.endswith('<!-- model-zoo:end -->\n\n## Layout\n')

    files = model_zoo.find_metafiles(tree) + [tree / 'README.md']
    snapshot = {p: p.read_bytes() for p in files}
    assert model_zoo.update(tree, bench) == []
    assert {p: p.read_bytes() for p in files} == snapshot


def test_update_reads_benchmark_table1_shape(tree):
    # methods as a list, stage configs, the train time in minutes, a
    # training checkpoint that is not a published file, a pretrained backbone
    stat = dict(mean=40.0, std=None, n=1)
    finetune = dict(
        method='finetune',
        configs=[
            'configs/csod/finetune-stage1_tiny_synthetic.py',
            'configs/csod/finetune-stage2_tiny_synthetic.py'
        ],
        n=1,
        base_map50=stat,
        novel_map50=dict(stat, mean=7.04),
        corloc_novel=stat,
        train_time_min=dict(stat, mean=12.34),
        peak_mem_mib=dict(stat, mean=2048.0))
    run = dict(
        method='finetune',
        seed=0,
        status='ok',
        checkpoint='work_dirs/x/epoch_2.pth',
        base_map50=40.0)
    bench = dict(
        methods=[finetune],
        runs=[run],
        pretrained='/abs/checkpoints/small_vgg_crops.pth')
    path = tree / 'table1.json'
    path.write_text(json.dumps(bench))
    model_zoo.update(tree, path)
    model = _models(tree)['finetune-stage2_tiny_synthetic']
    (result, ) = model['Results']
    assert result['Metrics'] == {
        'base AP50': 40.0,
        'novel AP50': 7.0,
        'novel CorLoc': 40.0,
        'train time (min)': 12.3
    }
    assert result['Seeds'] == 1 and 'Std' not in result
    assert model['Weights'] is None
    assert model['Metadata']['Backbone'] == 'SmallVGG (crop-pretrained)'
    assert model['Metadata']['Training Memory (MiB)'] == 2048
    assert _models(tree)['finetune-stage1_tiny_synthetic'].get(
        'Results') is None


def test_rerun_replaces_benchmark_rows(tree):
    bench = _bench(tree)
    model_zoo.update(tree, bench)
    data = json.loads(bench.read_text())
    data['methods']['ours']['novel_mAP50'] = {'mean': 20.0, 'std': 1.0}
    bench.write_text(json.dumps(data))
    model_zoo.update(tree, bench)
    (result, ) = _models(tree)['drn_tiny_synthetic']['Results']
    assert result['Metrics']['novel AP50'] == 20.0


def test_missing_markers_is_an_error(tree):
    (tree / 'README.md').write_text('# no markers\n')
    with pytest.raises(model_zoo.MetafileError, match='model-zoo:start'):
        model_zoo.update(tree, _bench(tree))


def test_metafiles_are_plain_yaml():
    for path in model_zoo.find_metafiles(REPO_ROOT):
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
        assert set(data) == {'Collections', 'Models'}


def test_publish_dir_publishes_the_first_seed(tree, tmp_path):
    """--publish-dir: the run's training checkpoint is published (meta and
    state_dict only, sha-stamped name) and named in Weights and the table."""
    import torch
    ckpt = tmp_path / 'epoch_2.pth'
    torch.save(dict(meta=dict(epoch=2), state_dict=dict(w=torch.ones(2)),
                    optimizer=dict(state={})), ckpt)
    stat = dict(mean=50.0, std=None, n=1)
    bench = dict(
        methods=[dict(method='ours', configs=['configs/csod/'
                                              'drn_tiny_synthetic.py'],
                      n=1, base_map50=stat, novel_map50=stat,
                      corloc_novel=stat)],
        runs=[dict(method='ours', seed=0, status='ok', checkpoint=str(ckpt))])
    path = tree / 'table1.json'
    path.write_text(json.dumps(bench))
    zoo = tmp_path / 'zoo'
    model_zoo.update(tree, path, publish_dir=zoo)
    weights = _models(tree)['drn_tiny_synthetic']['Weights']
    assert model_zoo.PUBLISHED.match(weights), weights
    published = torch.load(zoo / weights, weights_only=True)
    assert set(published) == {'meta', 'state_dict'}
    assert torch.equal(published['state_dict']['w'], torch.ones(2))
    assert weights in (tree / 'README.md').read_text()
    # the same checkpoint publishes to the same name: nothing changes
    assert model_zoo.update(tree, path, publish_dir=zoo) == []


def test_model_index_lists_every_metafile(tree):
    assert model_zoo.check(tree) == []
    index = tree / 'model-index.yml'
    data = yaml.safe_load(index.read_text())
    dropped = data['Import'].pop()
    data['Import'].append('configs/csod/nowhere/metafile.yml')
    index.write_text(yaml.safe_dump(data))
    problems = model_zoo.check(tree)
    assert any(f'does not import {dropped}' in p for p in problems)
    assert any('configs/csod/nowhere/metafile.yml, which does not exist' in p
               for p in problems)
    index.unlink()
    assert any('model-index.yml: missing' in p for p in model_zoo.check(tree))
