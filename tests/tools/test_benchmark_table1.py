"""tools/analysis_tools/benchmark_table1.py (+ table1_runs/_report.py): a
tiny two-method, two-seed run and its reuse; on hand-made records and faked
tools the aggregation, markdown, diagnostics, job order (the outputs:
test_benchmark_table1_outputs.py)."""
import json
import os
import os.path as osp
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from table1_records import (BASE, HEADER, NOVEL, method_of, ok_record,
                            stage_figures, stand_in_pretrained, table1_tool)


def test_aggregate_and_markdown_on_hand_made_runs():
    tool = table1_tool()
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
    tool = table1_tool()

    def fail(args, log_file, env):
        raise tool.RunError(f'{args[0]} exited with 1')

    monkeypatch.setattr(tool.table1_runs, 'run_tool', fail)
    args = tool.parse_args(['--out-dir', str(tmp_path)])
    ours = next(m for m in tool.METHODS if m.name == 'ours')
    record = tool.run_one(ours, 1, args, 1, '[1/1]')
    log = osp.join(str(tmp_path), 'runs', 'ours', 'seed1', 'run.log')
    assert record['status'] == 'failed' and not record['reused']
    assert record['error'] == ('ours seed 1 failed: tools/train.py exited '
                               f'with 1 (log: {log})')
    assert not osp.exists(osp.join(osp.dirname(log), 'result.json'))


def test_two_methods_two_seeds_then_reuse(synthetic_root, tmp_path, capsys):
    tool = table1_tool()
    out_dir = tmp_path / 'table1'
    opts = [
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=100',
        'train_dataloader.dataset.indices=4',
        'val_dataloader.dataset.indices=3', 'test_dataloader.dataset.indices=3'
    ]
    argv = [
        '--data-root', synthetic_root, '--pretrained',
        stand_in_pretrained(tmp_path / 'backbone.pth'), '--methods', 'oicr',
        'ours',
        '--seeds', '2', '--jobs', '2', '--out-dir',
        str(out_dir), '--publish-dir', '', '--diag-images', '4',
        '--cfg-options', *opts
    ]
    diag = osp.isfile(osp.join(REPO_ROOT, tool.DIAG_TOOL))
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
        ap = {**run['base_ap50_per_class'], **run['novel_ap50_per_class']}
        assert list(ap) == BASE + NOVEL, run
        assert all(0.0 <= v <= 100.0 for v in ap.values()), run
        if run['method'] == 'ours' and diag:  # the real tool's contract
            assert run['diagnostics'].endswith('diagnostics.json'), run
            assert set(run['stages']) <= {'mil', 'rec', 'scm', 'pseudo',
                                          'det'}
        else:
            assert run['stages'] is None and run['diagnostics'] == (
                'not a DRN model' if run['method'] == 'oicr' else
                f'skipped: no {tool.DIAG_TOOL}')
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
    assert '## Novel AP50 per class (val, mean ± std over seeds)' in table
    assert summary['wall_time_min'] > 0

    logs = [r['log'] for r in runs]
    for log in logs:  # val is tools/test.py's, not repeated by the loop
        text = open(log).read()
        assert 'Epoch(test)' in text and 'Epoch(val)' not in text, log
    mtimes = [os.stat(p).st_mtime_ns for p in logs]
    tool.main(argv)
    assert [os.stat(p).st_mtime_ns for p in logs] == mtimes
    with open(out_dir / 'table1.json') as f:
        again = json.load(f)
    assert all(r['reused'] for r in again['runs'])
    assert again['methods'] == summary['methods']
    assert 'table1.md' in capsys.readouterr().out


def test_per_class_ap_lowest_novel_and_their_markdown():
    tool = table1_tool()
    ours = [
        ok_record('ours', 0, dict(person=40.0, horse=35.0)),
        ok_record('ours', 1, dict(person=60.0, horse=25.0)),
        ok_record('ours', 2, dict(person=50.0, horse=None)),
        dict(method='ours', seed=3, status='failed', error='boom'),
    ]
    pcl = [ok_record('pcl', 0, dict(person=10.0, horse=5.0))]
    aggs = [
        tool.aggregate(method_of(tool, 'pcl'), pcl),
        tool.aggregate(method_of(tool, 'ours'), ours)
    ]
    agg = aggs[1]
    stats = agg['novel_ap50_per_class']
    assert list(stats) == ['person', 'horse']
    assert stats['person'] == dict(mean=50.0, std=pytest.approx(10.0), n=3)
    assert stats['horse'] == dict(mean=30.0, std=pytest.approx(50**.5), n=2)
    assert agg['base_ap50_per_class'] == dict(
        cart=dict(mean=50.0, std=0.0, n=3))
    assert agg['min_novel_ap50'] == 25.0
    assert agg['min_novel_ap50_at'] == {'class': 'horse', 'seed': 1}
    assert agg['multi_seed'] is True and agg['stages'] == {}
    none = tool.aggregate(method_of(tool, 'full'), ours[3:])
    assert none['min_novel_ap50'] is none['min_novel_ap50_at'] is None

    assert tool.table1_report.per_class_table(aggs).splitlines() == [
        '| Method | person | horse | lowest (class, seed) |',
        '| --- | --- | --- | --- |',
        '| PCL | 10.0 | 5.0 | 5.0 (horse, seed 0) |',
        '| Ours | 50.0 ± 10.0 | 30.0 ± 7.1 | 25.0 (horse, seed 1) |',
    ]
    # only the multi-seed rows, each seed; below 30 in bold
    seeds = tool.table1_report.per_seed_table(aggs, pcl + ours)
    assert seeds.splitlines() == [
        '| Method | seed | person | horse | novel mAP50 |',
        '| --- | --- | --- | --- | --- |',
        '| Ours | 0 | 40.0 | 35.0 | 37.5 |',
        '| Ours | 1 | 60.0 | **25.0** | 42.5 |',
        '| Ours | 2 | 50.0 | - | 50.0 |',
        '| Ours | 3 | failed | failed | failed |',
    ]
    md = tool.markdown_report(aggs, pcl + ours, wall_time_min=51.25)
    assert md.startswith(tool.markdown_table(aggs))
    assert '\n## Novel AP50 per class (val, mean ± std over seeds)\n' in md
    assert '\n## Novel AP50 per class, per seed (bold: below 30)\n' in md
    assert 'No stage diagnostics' in md
    assert md.endswith('Wall time of the benchmark: 51.2 min.\n')


def test_stage_figures_aggregated_and_tabled():
    tool = table1_tool()
    runs = [  # the last without diagnostics
        ok_record('ours', s, dict(person=40.0), stages)
        for s, stages in enumerate([stage_figures(40.0, 30.0, 20.0),
                                    stage_figures(60.0), None])
    ]
    stages = tool.aggregate(method_of(tool, 'ours'), runs)['stages']
    rec = stages['rec']['novel']
    assert rec['all']['corloc'] == dict(
        mean=50, std=pytest.approx(200**.5), n=2)
    assert rec['touching']['corloc']['mean'] == 40.0
    assert stages['rec']['base']['all']['corloc']['n'] == 2
    assert stages['scm']['novel'] == dict(
        free=dict(corloc=dict(mean=30.0, std=None, n=1)),
        all=dict(fallback=dict(mean=20.0, std=None, n=1)))
    aggs = [
        tool.aggregate(method_of(tool, 'oicr'), [ok_record('oicr', 0, {})]),
        tool.aggregate(method_of(tool, 'ours'), runs)
    ]
    lines = tool.table1_report.stages_table(aggs).splitlines()
    # the MIL stream's columns empty: runs without them (before it was
    # measured) still make a table
    assert lines == [
        '| Method | MIL CorLoc | rec CorLoc | SCM CorLoc | SCM fallback % | '
        'pseudo CorLoc | det CorLoc | MIL box / object | rec box / object | '
        'SCM box / object | det box / object |', '|' + ' --- |' * 11,
        '| Ours | - / - / - | 50.0 / 40.0 / - | - / - / 30.0 | '
        '20.0 / - / - | - / - / - | - / - / - | - / - / - | 1.00 / - / - | '
        '- / - / - | - / - / - |'
    ]
    md = tool.markdown_report(aggs, runs)
    assert ('\n## Where the chain loses (novel classes, train images)\n\n' +
            '\n'.join(lines)) in md


def test_per_class_ap_split_from_the_resolved_config():
    runs = table1_tool().table1_runs
    metrics = {f'pascal_voc/AP50_{c}': i / 10
               for i, c in enumerate(BASE + NOVEL)}
    metrics.update({'pascal_voc/mAP': 0.5, 'pascal_voc/novel_mAP': 0.3})
    metrics['pascal_voc/AP50_tree'] = float('nan')
    cfg = runs.load_config(
        osp.join(REPO_ROOT, 'configs/csod/drn_tiny_synthetic.py'))
    base, novel = runs.per_class_ap(metrics, cfg)
    assert list(base) == BASE and list(novel) == NOVEL
    assert novel['person'] == pytest.approx(50.0) and novel['tree'] is None
    assert base['cart'] == 0.0
    # a split of its own (a wrapped dataset); no split: all base
    meta = dict(classes=BASE + NOVEL, base_classes=NOVEL, novel_classes=[
        'cart'])
    wrapped = dict(val_dataloader=dict(dataset=dict(dataset=dict(
        metainfo=meta))))
    base, novel = runs.per_class_ap(metrics, wrapped)
    assert list(base) == NOVEL and novel == dict(cart=0.0)
    base, novel = runs.per_class_ap(metrics, None)
    assert list(base) == BASE + NOVEL and novel == {}
    figures = runs.figures_of(dict(val=metrics, corloc={}), cfg)
    assert figures['map50'] == 50.0 and figures['corloc_novel'] is None


def _fake_tools(tool, calls, stages):
    """run_tool writing what train.py, test.py and diagnose_drn.py would
    (the last fails when ``stages`` is None), recording the commands; the
    one-process runner of a run's tests and diagnostics runs its plan's
    steps through the same fakes and writes its report."""

    def fake_tool(args):
        calls.append(list(args))
        opt = {k: v for k, v in zip(args, args[1:]) if k.startswith('--')}
        if args[0] == 'tools/train.py':
            ckpt = osp.join(opt['--work-dir'], 'epoch_1.pth')
            open(ckpt, 'w').close()
            Path(opt['--work-dir'], 'last_checkpoint').write_text(ckpt)
        elif args[0] == 'tools/test.py':
            metrics = {f'pascal_voc/AP50_{c}': 0.5 for c in BASE + NOVEL}
            metrics['pascal_voc/novel_mAP'] = 0.5
            Path(opt['--metrics-out']).write_text(json.dumps(metrics))
        elif stages is None:
            raise tool.RunError(f'{args[0]} exited with 1')
        else:
            Path(opt['--out']).write_text(json.dumps(dict(stages=stages)))

    def fake(args, log_file, env):
        fake.processes.append(args[0])
        if args[0] != tool.table1_runs.EVAL_RUNNER:
            fake_tool(args)
            return 1.0, 500.0
        steps = json.loads(Path(args[1]).read_text())['steps']
        report = []
        for step in steps:
            try:
                fake_tool(step['argv'])
                report.append(dict(name=step['name'], status='ok',
                                   seconds=3.0, error=None))
            except tool.RunError as e:
                report.append(dict(name=step['name'], status='failed',
                                   seconds=1.0, error=str(e)))
        Path(args[3]).write_text(json.dumps(dict(steps=report)))
        return 1.0, 500.0

    fake.processes = []
    return fake


def test_drn_runs_diagnosed_others_not(tmp_path, monkeypatch):
    tool, calls, stages = table1_tool(), [], stage_figures(40.0)
    runs = tool.table1_runs
    fake = _fake_tools(tool, calls, stages)
    monkeypatch.setattr(runs, 'run_tool', fake)
    monkeypatch.setattr(runs, 'diag_tool_exists', lambda: True)
    args = tool.parse_args(['--out-dir', str(tmp_path)])
    ours = method_of(tool, 'ours')
    record = tool.run_one(ours, 0, args, 1, '[1/1]')
    work_dir = osp.join(str(tmp_path), 'runs', 'ours', 'seed0')
    assert record['status'] == 'ok' and record['stages'] == stages, record
    # training, then the two tests and the diagnostics in one process
    assert fake.processes == ['tools/train.py', runs.EVAL_RUNNER]
    # the per-epoch stage figures are not part of the timed training (the
    # config's second custom hook); the run is diagnosed once, after it
    stop_hook = 'custom_hooks.1.interval=1000000'
    assert calls[0][0] == 'tools/train.py' and stop_hook in calls[0]
    assert record['diag_time_min'] == 3.0 / 60
    assert record['checkpoint_sha256'] == 'e3b0c442'  # the empty file's
    assert record['diagnostics'] == osp.join(work_dir, 'diagnostics.json')
    assert record['novel_ap50_per_class'] == dict.fromkeys(NOVEL, 50.0)
    assert len(calls) == 4 and calls[-1] == [
        tool.DIAG_TOOL,
        osp.join(REPO_ROOT, 'configs/csod/drn_tiny_synthetic.py'),
        osp.join(work_dir, 'epoch_1.pth'), '--split', 'train',
        '--num-images', '120', '--out',
        osp.join(work_dir, 'diagnostics.json')
    ]
    assert json.loads(
        open(osp.join(work_dir, 'result.json')).read())['stages'] == stages

    calls.clear()  # a weak method: no diagnostics
    record = tool.run_one(method_of(tool, 'oicr'), 0, args, 1, '[1/1]')
    assert (record['stages'], record['diagnostics']) == (None,
                                                         'not a DRN model')
    assert [c[0] for c in calls] == ['tools/train.py'] + ['tools/test.py'] * 2
    assert not any(o.startswith('custom_hooks') for o in calls[0])
    calls.clear()  # --train-diagnostics keeps the hook
    args.train_diagnostics = True
    tool.run_one(ours, 3, args, 1, '[1/1]')
    assert stop_hook not in calls[0]
    args.train_diagnostics = False

    # the tool missing: a note; it runs on reuse once it exists
    monkeypatch.setattr(runs, 'diag_tool_exists', lambda: False)
    record = tool.run_one(ours, 1, args, 1, '[1/1]')
    assert record['status'] == 'ok' and record['stages'] is None
    assert record['diagnostics'] == f'skipped: no {tool.DIAG_TOOL}'
    monkeypatch.setattr(runs, 'diag_tool_exists', lambda: True)
    calls.clear()
    record = tool.run_one(ours, 1, args, 1, '[1/1]')
    assert record['reused'] and record['stages'] == stages
    assert [c[0] for c in calls] == [tool.DIAG_TOOL]

    # the tool failing: the run stands without stages
    monkeypatch.setattr(runs, 'run_tool', _fake_tools(tool, calls, None))
    record = tool.run_one(ours, 2, args, 1, '[1/1]')
    assert record['status'] == 'ok' and record['stages'] is None
    assert record['diagnostics'] == f'failed: {tool.DIAG_TOOL} exited with 1'


def test_longest_jobs_submitted_first(tmp_path, monkeypatch):
    tool = table1_tool()
    submitted = []

    def fake_run_one(method, seed, args, threads, tag):
        submitted.append((method.name, seed, tag))
        return dict(method=method.name, seed=seed, status='ok')

    monkeypatch.setattr(tool.table1_runs, 'run_one', fake_run_one)
    methods = [
        method_of(tool, n) for n in ('oicr', 'finetune', 'ours', 'full')
    ]
    args = tool.parse_args(
        ['--out-dir', str(tmp_path), '--jobs', '1', '--seeds', '2'])
    plan = [('oicr', 0), ('oicr', 1), ('finetune', 0), ('ours', 0),
            ('ours', 1), ('full', 0)]
    records = tool.run_all(args, methods)  # no prior: the stages count
    assert [(r['method'], r['seed']) for r in records] == plan
    assert submitted[0] == ('finetune', 0, '[1/6]')
    assert [s[:2] for s in submitted[1:]] == plan[:2] + plan[3:]
    # the last benchmark's times (finetune: 2 stages of their mean); a
    # reused run costs nothing
    bench = tmp_path / 'table1.json'
    times = [('oicr', 3.0), ('ours', 5.0), ('ours', 6.0), ('full', 1.0)]
    runs = [dict(method=m, train_time_min=t) for m, t in times]
    bench.write_text(json.dumps(dict(runs=runs)))
    prior = tool.prior_minutes([str(tmp_path / 'missing.json'), str(bench)])
    assert prior == dict(oicr=3.0, ours=5.5, full=1.0)
    os.makedirs(tmp_path / 'runs' / 'ours' / 'seed1')
    (tmp_path / 'runs' / 'ours' / 'seed1' / 'result.json').write_text('{}')
    submitted.clear()
    tool.run_all(args, methods, prior)
    assert [s[:2] for s in submitted] == [plan[i] for i in (2, 3, 0, 1, 5, 4)]


def test_first_seed_shifts_every_methods_seeds(tmp_path, monkeypatch):
    """More seeds of an experiment: ``--first-seed 3 --seeds 2`` runs seeds
    3 and 4 of the methods with a spread and seed 3 of the others."""
    tool = table1_tool()
    monkeypatch.setattr(
        tool.table1_runs, 'run_one', lambda method, seed, args, threads,
        tag: dict(method=method.name, seed=seed, status='ok'))
    methods = [method_of(tool, n) for n in ('oicr', 'full')]
    args = tool.parse_args(['--out-dir', str(tmp_path), '--jobs', '1',
                            '--seeds', '2', '--first-seed', '3'])
    records = tool.run_all(args, methods)
    assert [(r['method'], r['seed']) for r in records] == [('oicr', 3),
                                                           ('oicr', 4),
                                                           ('full', 3)]
    assert tool.parse_args(['--out-dir', str(tmp_path)]).first_seed == 0
    with pytest.raises(SystemExit):
        tool.parse_args(['--first-seed', '-1'])
