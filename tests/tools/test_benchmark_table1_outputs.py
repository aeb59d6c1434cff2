"""tools/analysis_tools/benchmark_table1.py's outputs: the published copy
and its json layout, the generated data roots of the scene families."""
import json
import os
import os.path as osp

import pytest
from conftest import REPO_ROOT
from table1_records import (HEADER, ok_record, stage_figures,
                            stand_in_pretrained, table1_tool)


def _main_with_fake_runs(tool, tmp_path, monkeypatch, *extra):
    pretrained = tmp_path / 'backbone.pth'
    pretrained.write_bytes(b'weights')
    runs = [ok_record('oicr', s, dict(person=20.0 + s, horse=40.0)) for s in
            range(3)] + [
                ok_record('ours', 0, dict(person=50.0), stage_figures(40.0))
            ]
    monkeypatch.setattr(tool, 'prepare_inputs', lambda args: dict(seed=1))
    monkeypatch.setattr(tool, 'run_all', lambda args, methods, prior: runs)
    data_root = tmp_path / 'data'
    (data_root / 'annotations').mkdir(parents=True, exist_ok=True)
    (data_root / 'annotations' / 'train.json').write_text('{}')
    return tool.main(['--pretrained', str(pretrained), '--methods', 'oicr',
                      'ours', '--out-dir', str(tmp_path / 'out'),
                      '--data-root', str(data_root), *extra])


def test_published_copy_and_json_layout(tmp_path, monkeypatch, capsys):
    tool = table1_tool()
    assert tool.METHODS[tool.METHOD_NAMES.index('ours') + 1] == tool.Method(
        'ours-plus', 'Ours+ (beyond the paper)', 'cross',
        ['configs/csod/drn-plus_tiny_synthetic.py'], True)  # with seeds
    assert tool.parse_args([]).publish_dir == osp.join(REPO_ROOT, 'benchmarks')
    publish = tmp_path / 'benchmarks'
    _main_with_fake_runs(tool, tmp_path, monkeypatch, '--publish-dir',
                         str(publish))
    for name in ('table1.json', 'table1.md'):
        assert (publish / name).read_text() == (tmp_path / 'out' /
                                                name).read_text()
    data = json.loads((publish / 'table1.json').read_text())
    assert {
        'command', 'date', 'git_commit', 'wall_time_min', 'data_root',
        'data_seed', 'data', 'data_sha256', 'pretrained', 'pretrained_sha256',
        'units', 'methods', 'runs'
    } <= set(data)
    assert data['data_sha256'] == tool.tree_sha256(str(tmp_path / 'data'))
    assert data['pretrained_sha256'] and 0 <= data['wall_time_min'] < 1
    oicr, ours = data['methods']
    assert oicr['method'] == 'oicr' and oicr['n'] == 3
    assert oicr['novel_ap50_per_class']['person']['mean'] == 21.0
    assert oicr['min_novel_ap50'] == 20.0
    assert ours['stages']['rec']['novel']['all']['corloc']['mean'] == 40.0
    md = (publish / 'table1.md').read_text()
    assert md.splitlines()[0] == HEADER
    assert '| OICR | 0 | **20.0** | 40.0 | 30.0 |' in md
    assert '| Ours | - / - / - | 40.0 / 30.0 / - |' in md
    out = capsys.readouterr().out
    assert str(publish / 'table1.md') in out and 'wall time ' in out

    # model_zoo reads the published json as it read the old one
    from analysis_tools import model_zoo
    entries = model_zoo.benchmark_entries(data, 'table1.json')
    assert entries['oicr_small-vgg_synthetic']['result']['Seeds'] == 3

    for path in (publish, tmp_path / 'out'):  # --publish-dir '': none
        for name in ('table1.json', 'table1.md'):
            os.remove(path / name)
    _main_with_fake_runs(tool, tmp_path, monkeypatch, '--publish-dir', '')
    assert sorted(os.listdir(tmp_path / 'out')) == ['table1.json', 'table1.md']
    assert os.listdir(publish) == []


def test_data_root_generated_with_cart_loads_unless_told(
        tmp_path, monkeypatch):
    """The table's data have base carriers by default (issue 9): the data
    root is generated with make_synthetic.py --cart-loads, and
    --no-cart-loads gives generator version 1.0's scenes."""
    tool = table1_tool()
    calls = []

    def fake_run(cmd, cwd, check):
        calls.append(cmd)
        if cmd[1].endswith('make_synthetic.py'):
            out = cmd[cmd.index('--out') + 1]
            os.makedirs(osp.join(out, 'annotations'))
            args = dict(num_train=480, num_val=200, seed=1)
            if '--cart-loads' in cmd:
                args['cart_loads'] = True
            with open(osp.join(out, 'annotations', 'train.json'), 'w') as f:
                json.dump(dict(info=dict(args=args)), f)

    monkeypatch.setattr(tool.subprocess, 'run', fake_run)
    pretrained = stand_in_pretrained(tmp_path / 'backbone.pth')
    assert tool.parse_args([]).data_root == 'data/synthetic_table1_loads'
    assert tool.parse_args(['--no-cart-loads'
                            ]).data_root == 'data/synthetic_table1'
    for flag, loads in (([], True), (['--no-cart-loads'], False)):
        root = str(tmp_path / f'data{len(calls)}')
        args = tool.parse_args(
            ['--data-root', root, '--pretrained', pretrained, *flag])
        data = tool.prepare_inputs(args)
        assert ('--cart-loads' in calls[-1]) is loads
        assert data.get('cart_loads', False) is loads


def test_yard_family_generated_and_its_split_given_to_every_config(
        tmp_path, monkeypatch):
    """--family yard generates the second scene family (make_synthetic.py
    --family yard, never with cart loads) and hands its class split, read
    from the generated json, to the datasets of every config and to the
    model of a DRN config on the command line."""
    tool = table1_tool()
    calls = []
    names = ['truck', 'table', 'barrel', 'door', 'balloon', 'dog', 'bird',
             'cup', 'flower', 'robot']

    def fake_run(cmd, cwd, check):
        calls.append(cmd)
        out = cmd[cmd.index('--out') + 1]
        os.makedirs(osp.join(out, 'annotations'))
        coco = dict(
            info=dict(args=dict(num_train=480, num_val=200, seed=1,
                                family='yard')),
            categories=[dict(id=i + 1, name=n) for i, n in enumerate(names)])
        with open(osp.join(out, 'annotations', 'train.json'), 'w') as f:
            json.dump(coco, f)

    monkeypatch.setattr(tool.subprocess, 'run', fake_run)
    assert tool.parse_args(['--family', 'yard']).data_root == \
        'data/synthetic_yard'
    with pytest.raises(SystemExit):
        tool.parse_args(['--family', 'yard', '--cart-loads'])
    args = tool.parse_args([
        '--family', 'yard', '--data-root',
        str(tmp_path / 'yard'), '--pretrained',
        stand_in_pretrained(tmp_path / 'backbone.pth')
    ])
    assert args.cart_loads is False
    tool.prepare_inputs(args)
    assert calls[-1][-2:] == ['--family', 'yard']
    assert '--cart-loads' not in calls[-1]
    assert args.class_split == dict(
        classes=names, base_classes=names[:5], novel_classes=names[5:])
    runs = tool.table1_runs
    drn = runs.base_options(args, 0, 'configs/csod/drn-plus_tiny_synthetic.py')
    oicr = runs.base_options(args, 0,
                             'configs/wsod/oicr_small-vgg_synthetic.py')
    novel = 'novel_classes=[dog,bird,cup,flower,robot]'
    for loader in runs.LOADERS:
        assert f'{loader}.dataset.metainfo.{novel}' in drn
        assert f'{loader}.dataset.metainfo.{novel}' in oicr
    assert f'model.class_split.{novel}' in drn
    assert not any(o.startswith('model.class_split') for o in oicr)
    # the default family changes nothing
    args.class_split = None
    assert not any('metainfo' in o for o in runs.base_options(
        args, 0, 'configs/csod/drn-plus_tiny_synthetic.py'))
    # a json that is not the yard family's is an error that names it
    with pytest.raises(SystemExit, match='10 categories'):
        tool.yard_split(dict(categories=[]), 'x/train.json')


def test_published_table_was_made_with_the_default_settings():
    """The README gives the plain command as the one that made
    benchmarks/table1.json: every setting that changes a figure or the
    time (not where the outputs go) is the parser's default."""
    import shlex
    tool = table1_tool()
    with open(osp.join(REPO_ROOT, 'benchmarks', 'table1.json')) as f:
        published = json.load(f)
    argv = shlex.split(published['command'])[2:]
    given, default = vars(tool.parse_args(argv)), vars(tool.parse_args([]))
    where = {'out_dir', 'publish_dir', 'force'}
    differ = {k: (default[k], v) for k, v in given.items()
              if k not in where and v != default[k]}
    assert not differ, f'(default, published): {differ}'


def test_data_hash_names_the_data_not_where_they_lie(tmp_path):
    """benchmarks/table1.json's data_sha256 (issue 9: data and checkpoint
    hashes): the same files under another folder hash alike; a changed
    byte, a renamed or an added file change it; no data root is an error."""
    tool = table1_tool()
    for root in ('a', 'b'):
        (tmp_path / root / 'train').mkdir(parents=True)
        (tmp_path / root / 'train' / '0.jpg').write_bytes(b'\xff\xd8pixels')
        (tmp_path / root / 'val.json').write_text('{"images": []}')
    same = tool.tree_sha256(str(tmp_path / 'a'))
    assert len(same) == 8 and same == tool.tree_sha256(str(tmp_path / 'b'))
    (tmp_path / 'b' / 'train' / '0.jpg').write_bytes(b'\xff\xd8pixelz')
    changed = tool.tree_sha256(str(tmp_path / 'b'))
    (tmp_path / 'b' / 'train' / '0.jpg').rename(tmp_path / 'b' / '0.jpg')
    moved = tool.tree_sha256(str(tmp_path / 'b'))
    (tmp_path / 'a' / 'extra.npz').write_bytes(b'')
    assert len({same, changed, moved, tool.tree_sha256(str(tmp_path / 'a'))
                }) == 4
    with pytest.raises(FileNotFoundError, match='no data root'):
        tool.tree_sha256(str(tmp_path / 'missing'))
