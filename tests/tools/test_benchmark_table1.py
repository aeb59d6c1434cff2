"""tools/analysis_tools/benchmark_table1.py: a two-method, two-seed run of
a couple of iterations each, its reuse on a second call, and the
aggregation and table helpers on hand-made figures."""
import importlib.util
import json
import os
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from mmdet.registry import MODELS

TOOL = 'tools/analysis_tools/benchmark_table1.py'
HEADER = ('| Method | Supervision | base mAP50 | novel mAP50 | '
          'novel CorLoc (train) | train time (min) | peak mem (MiB) | '
          'seeds |')


def _tool():
    spec = importlib.util.spec_from_file_location('benchmark_table1',
                                                  osp.join(REPO_ROOT, TOOL))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pretrained(path):
    """A checkpoint in pretrain_backbone.py's layout, from random weights."""
    backbone = MODELS.build(dict(type='SmallVGG'))
    state_dict = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    torch.save(dict(meta=dict(), state_dict=state_dict), path)
    return str(path)


def test_aggregate_and_markdown_on_hand_made_runs():
    tool = _tool()
    ours = next(m for m in tool.METHODS if m.name == 'ours')
    full = next(m for m in tool.METHODS if m.name == 'full')
    runs = [
        dict(
            method='ours',
            seed=s,
            status='ok',
            base_map50=b,
            novel_map50=n,
            corloc_novel=None if s == 1 else 40.0,
            train_time_min=2.0,
            peak_mem_mib=1000.0)
        for s, b, n in [(0, 50.0, 10.0), (1, 60.0, 20.0)]
    ] + [dict(method='ours', seed=2, status='failed', error='boom')]
    agg = tool.aggregate(ours, runs)
    assert agg['n'] == 2 and agg['seeds'] == [0, 1] and agg['failed'] == [2]
    assert agg['base_map50']['mean'] == pytest.approx(55.0)
    assert agg['base_map50']['std'] == pytest.approx(50**0.5)  # sample std
    assert agg['novel_map50'] == dict(
        mean=pytest.approx(15.0), std=pytest.approx(50**0.5), n=2)
    assert agg['corloc_novel'] == dict(mean=40.0, std=None, n=1)
    assert agg['peak_mem_mib']['std'] == 0.0
    failed = tool.aggregate(full,
                            [dict(method='full', seed=0, status='failed')])
    assert failed['n'] == 0 and failed['base_map50']['mean'] is None

    lines = tool.markdown_table([agg, failed]).splitlines()
    assert lines[0] == HEADER and len(lines) == 4
    assert lines[2] == ('| Ours | cross | 55.0 ± 7.1 | 15.0 ± 7.1 | 40.0 | '
                        '2.0 ± 0.0 | 1000 ± 0 | 2 (1 failed) |')
    assert lines[3] == ('| Full supervision | full |' + ' failed |' * 5 +
                        ' 0 (1 failed) |')


def test_failed_run_is_a_record_naming_method_seed_and_log(
        tmp_path, monkeypatch):
    tool = _tool()

    def fail(args, log_file, env):
        raise tool.RunError(f'{args[0]} exited with 1')

    monkeypatch.setattr(tool, 'run_tool', fail)
    args = tool.parse_args(['--out-dir', str(tmp_path)])
    ours = next(m for m in tool.METHODS if m.name == 'ours')
    record = tool.run_one(ours, 1, args, 1, '[1/1]')
    log = osp.join(str(tmp_path), 'runs', 'ours', 'seed1', 'run.log')
    assert record['status'] == 'failed' and not record['reused']
    assert record['error'] == ('ours seed 1 failed: tools/train.py exited '
                               f'with 1 (log: {log})')
    assert not osp.exists(osp.join(osp.dirname(log), 'result.json'))


def test_two_methods_two_seeds_then_reuse(synthetic_root, tmp_path, capsys):
    tool = _tool()
    out_dir = tmp_path / 'table1'
    opts = [
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=100',
        'train_dataloader.dataset.indices=4',
        'val_dataloader.dataset.indices=3', 'test_dataloader.dataset.indices=3'
    ]
    argv = [
        '--data-root', synthetic_root, '--pretrained',
        _pretrained(tmp_path / 'backbone.pth'), '--methods', 'oicr', 'ours',
        '--seeds', '2', '--jobs', '2', '--out-dir',
        str(out_dir), '--cfg-options', *opts
    ]
    tool.main(argv)
    with open(out_dir / 'table1.json') as f:
        summary = json.load(f)
    runs = summary['runs']
    assert [(r['method'], r['seed'])
            for r in runs] == [('oicr', 0), ('oicr', 1), ('ours', 0),
                               ('ours', 1)]
    for run in runs:
        assert run['status'] == 'ok' and not run['reused'], run
        for key in ('map50', 'base_map50', 'novel_map50', 'corloc_base',
                    'corloc_novel'):
            assert 0.0 <= run[key] <= 100.0, (key, run)
        assert 0.0 < run['train_time_min'] < 10.0
        assert 100.0 < run['peak_mem_mib'] < 64 * 1024
    for agg in summary['methods']:
        assert agg['n'] == 2 and agg['failed'] == []
        values = [
            r['novel_map50'] for r in runs if r['method'] == agg['method']
        ]
        assert agg['novel_map50']['mean'] == pytest.approx(sum(values) / 2)
        assert agg['novel_map50']['std'] == pytest.approx(
            abs(values[0] - values[1]) / 2**0.5)
    assert summary['pretrained_sha256'] and summary['data']['seed'] == 3
    assert '--methods oicr ours' in summary['command']
    table = (out_dir / 'table1.md').read_text().splitlines()
    assert table[0] == HEADER
    assert table[2].startswith('| OICR | weak | ')
    assert table[3].startswith('| Ours | cross | ')
    assert table[2].endswith(' | 2 |') and ' ± ' in table[2]

    logs = [r['log'] for r in runs]
    mtimes = [os.stat(p).st_mtime_ns for p in logs]
    tool.main(argv)
    assert [os.stat(p).st_mtime_ns for p in logs] == mtimes
    with open(out_dir / 'table1.json') as f:
        again = json.load(f)
    assert all(r['reused'] for r in again['runs'])
    assert again['methods'] == summary['methods']
    assert 'table1.md' in capsys.readouterr().out
