"""The paper's Table 1 on the generated dataset, every method on CPU.

    python tools/analysis_tools/benchmark_table1.py
        [--data-root data/synthetic_table1] [--num-train 480] [--num-val 200]
        [--data-seed 1] [--pretrained checkpoints/small_vgg_crops.pth]
        [--jobs 2] [--methods wsddn oicr ... ours full] [--seeds 3]
        [--out-dir work_dirs/benchmarks/table1] [--force]
        [--cfg-options KEY=VALUE ...]

Each method's tiny config is trained with tools/train.py from the pretrained
backbone (``--pretrained``, handed to the configs' backbone init_cfg as
``CSOD_PRETRAINED``), once per seed (``--seeds`` seeds for OICR, Two
Head, Ours w/o SCM and Ours, seed 0 for the others), in
``OUT_DIR/runs/<method>/seed<S>``; Finetune trains its two stages in turn,
the second from the first's last checkpoint. tools/test.py then measures
mAP at IoU 0.5 on the val images (all, base and novel classes:
SplitVOCMetric) and CorLoc on the first 240 training images (CorLocMetric,
the WSOD convention of localising on the training set). Training
time is the wall clock of the training process(es), peak memory their
largest resident set (``ru_maxrss`` from ``os.wait4``); ``--jobs`` runs
that many in parallel, each with cpu_count // jobs threads.

The data root is generated (tools/dataset_converters/make_synthetic.py) and
the backbone pretrained (tools/misc/pretrain_backbone.py) when missing. A run
whose ``result.json`` exists is reused unless ``--force``, so an interrupted
benchmark resumes; a failed run is reported and the others go on. The
``--cfg-options`` are appended to every training and test command. Writes
``OUT_DIR/table1.json`` (every run's figures, per-method mean and sample std
over seeds, the command, data, checkpoint hash and git commit) and
``OUT_DIR/table1.md``.
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import os.path as osp
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

NUM_TRAIN = 480
NUM_VAL = 200
# CorLoc is measured on the first CORLOC_IMAGES training images
CORLOC_IMAGES = 240
NUM_SEEDS = 3
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')

Method = namedtuple('Method', 'name title supervision configs multi_seed')
# The paper's row order: weak-only, cross-supervised baselines, ours, then
# the fully supervised upper bound. Finetune's configs are its two stages.
METHODS = [
    Method('wsddn', 'WSDDN', 'weak',
           ['configs/wsod/wsddn_small-vgg_synthetic.py'], False),
    Method('oicr', 'OICR', 'weak',
           ['configs/wsod/oicr_small-vgg_synthetic.py'], True),
    Method('pcl', 'PCL', 'weak', ['configs/wsod/pcl_small-vgg_synthetic.py'],
           False),
    Method('finetune', 'Finetune', 'cross', [
        'configs/csod/finetune-stage1_tiny_synthetic.py',
        'configs/csod/finetune-stage2_tiny_synthetic.py'
    ], False),
    Method('two-head', 'Two Head', 'cross',
           ['configs/csod/two-head_tiny_synthetic.py'], True),
    Method('two-head-plus', 'Two Head+', 'cross',
           ['configs/csod/two-head-plus_tiny_synthetic.py'], False),
    Method('two-branch', 'Two Branch', 'cross',
           ['configs/csod/two-branch_tiny_synthetic.py'], False),
    Method('ours-wo-scm', 'Ours w/o SCM', 'cross',
           ['configs/csod/ours-wo-scm_tiny_synthetic.py'], True),
    Method('ours', 'Ours', 'cross', ['configs/csod/drn_tiny_synthetic.py'],
           True),
    Method('full', 'Full supervision', 'full',
           ['configs/fast_rcnn/fast_rcnn_small-vgg_synthetic-full.py'], False),
]
METHOD_NAMES = [m.name for m in METHODS]

# figure -> (metrics file, metric key, scale); mAP and CorLoc come as
# fractions and are reported in percent
METRICS = {
    'map50': ('val', 'pascal_voc/mAP', 100),
    'base_map50': ('val', 'pascal_voc/base_mAP', 100),
    'novel_map50': ('val', 'pascal_voc/novel_mAP', 100),
    'corloc_base': ('corloc', 'corloc/corloc_base', 100),
    'corloc_novel': ('corloc', 'corloc/corloc_novel', 100),
}
# markdown columns: (title, figure, decimals)
COLUMNS = [('base mAP50', 'base_map50', 1), ('novel mAP50', 'novel_map50', 1),
           ('novel CorLoc (train)', 'corloc_novel', 1),
           ('train time (min)', 'train_time_min', 1),
           ('peak mem (MiB)', 'peak_mem_mib', 0)]
FIGURES = [*METRICS, 'train_time_min', 'peak_mem_mib']

# tools/test.py on the training images with CorLoc only (the WSOD
# convention); a config file because --cfg-options cannot set a list of
# metrics
CORLOC_CONFIG = """# written by tools/analysis_tools/benchmark_table1.py
_base_ = {base!r}
test_dataloader = dict(
    dataset=dict(
        ann_file='annotations/train.json',
        data_prefix=dict(img='train/'),
        proposal_file='proposals/ss_train.npz',
        indices={num_images},
        test_mode=True))
test_evaluator = [dict(type='CorLocMetric', iou_thr=0.5)]
"""

_print_lock = threading.Lock()


class RunError(RuntimeError):
    pass


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/synthetic_table1')
    parser.add_argument(
        '--num-train',
        type=int,
        default=NUM_TRAIN,
        help='training images when the data root is generated')
    parser.add_argument(
        '--num-val',
        type=int,
        default=NUM_VAL,
        help='val images when the data root is generated')
    parser.add_argument(
        '--data-seed',
        type=int,
        default=1,
        help='seed when the data root is generated')
    parser.add_argument(
        '--pretrained',
        default='checkpoints/small_vgg_crops.pth',
        help='backbone checkpoint every run starts from (made when missing)')
    parser.add_argument('--jobs', type=int, default=2, help='runs in parallel')
    parser.add_argument(
        '--methods',
        nargs='+',
        choices=METHOD_NAMES,
        default=METHOD_NAMES,
        metavar='METHOD',
        help=f'a subset of {" ".join(METHOD_NAMES)}')
    parser.add_argument(
        '--seeds',
        type=int,
        default=NUM_SEEDS,
        help='seeds of the methods with a spread (OICR, Two Head, Ours w/o '
        'SCM, Ours); one seed for the others')
    parser.add_argument('--out-dir', default='work_dirs/benchmarks/table1')
    parser.add_argument(
        '--force',
        action='store_true',
        help='retrain runs that have a result.json')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='appended to every tools/train.py and tools/test.py command')
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.seeds < 1:
        parser.error('--jobs and --seeds must be >= 1')
    return args


def log(msg):
    stamp = datetime.datetime.now().strftime('%H:%M:%S')
    with _print_lock:
        print(f'{stamp} {msg}', flush=True)


def tool_env(threads, pretrained):
    """Environment of the tool processes: ``threads`` OpenMP/MKL threads,
    and CSOD_PRETRAINED (the small configs' backbone init_cfg) at the
    benchmark's checkpoint."""
    return dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        CSOD_PRETRAINED=pretrained)


def run_tool(args, log_file, env):
    """Run ``python ARGS`` from the repository root, output appended to
    ``log_file``; returns (wall seconds, peak resident MiB of the process
    and its reaped children)."""
    cmd = [sys.executable, *args]
    with open(log_file, 'a') as out:
        out.write(f'\n$ {shlex.join(cmd)}\n')
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RunError(f'{args[0]} exited with {proc.returncode}')
    return seconds, usage.ru_maxrss / 1024


def sha256_prefix(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()[:8]


def git_commit():
    """HEAD of the repository, with '-dirty' when the tree has changes."""

    def git(*args):
        return subprocess.run(['git', *args],
                              cwd=REPO_ROOT,
                              capture_output=True,
                              text=True).stdout.strip()

    commit = git('rev-parse', 'HEAD') or 'unknown'
    return commit + ('-dirty' if git('status', '--porcelain') else '')


def prepare_inputs(args):
    """Generate the data root and pretrain the backbone when missing;
    returns the data set's generation arguments (from train.json)."""
    ann = osp.join(args.data_root, 'annotations', 'train.json')
    if not osp.isfile(ann):
        log(f'generating {args.data_root} ...')
        subprocess.run([
            sys.executable, 'tools/dataset_converters/make_synthetic.py',
            '--out', args.data_root, '--num-train',
            str(args.num_train), '--num-val',
            str(args.num_val), '--seed',
            str(args.data_seed)
        ],
                       cwd=REPO_ROOT,
                       check=True)
    if not osp.isfile(args.pretrained):
        log(f'pretraining the backbone into {args.pretrained} ...')
        subprocess.run([
            sys.executable, 'tools/misc/pretrain_backbone.py', '--out',
            args.pretrained
        ],
                       cwd=REPO_ROOT,
                       check=True)
    with open(ann) as f:
        info = json.load(f).get('info', {})
    data = info.get('args', {})
    wanted = dict(
        num_train=args.num_train, num_val=args.num_val, seed=args.data_seed)
    if data and any(data.get(k) != v for k, v in wanted.items()):
        log(f'note: {args.data_root} exists and was generated with {data}; '
            'it is used as it is')
    return data


def base_options(args, seed):
    """cfg-options of every tool call of a run (the user's last)."""
    opts = [f'randomness.seed={seed}']
    for loader in LOADERS:
        opts += [
            f'{loader}.dataset.data_root={args.data_root}',
            f'{loader}.num_workers=0', f'{loader}.persistent_workers=False'
        ]
    return opts + list(args.cfg_options)


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def train(method, work_dir, args, seed, log_file, env):
    """Train every stage of ``method``; returns (checkpoint, seconds,
    peak MiB) with the time summed and the memory maxed over stages."""
    load_from, seconds, peak = None, 0.0, 0.0
    for i, config in enumerate(method.configs):
        stage_dir = work_dir if len(method.configs) == 1 else osp.join(
            work_dir, f'stage{i + 1}')
        # the backbone starts from CSOD_PRETRAINED (its init_cfg); a later
        # stage starts from the stage before
        prev = [f'load_from={load_from}'] if load_from else []
        secs, mib = run_tool([
            'tools/train.py', config, '--work-dir', stage_dir, '--cfg-options',
            *prev, *base_options(args, seed)
        ], log_file, env)
        seconds, peak = seconds + secs, max(peak, mib)
        load_from = last_checkpoint(stage_dir)
    return load_from, seconds, peak


def test(method, checkpoint, work_dir, args, seed, log_file, env):
    """mAP on val and CorLoc on the training images, each test in a work
    dir of its own under ``work_dir``; returns the figures of METRICS."""
    config = osp.join(REPO_ROOT, method.configs[-1])
    corloc_config = osp.join(work_dir, 'corloc_config.py')
    with open(corloc_config, 'w') as f:
        f.write(CORLOC_CONFIG.format(base=config, num_images=CORLOC_IMAGES))
    metrics = {}
    for name, cfg_file in (('val', config), ('corloc', corloc_config)):
        out = osp.join(work_dir, f'{name}_metrics.json')
        run_tool([
            'tools/test.py', cfg_file, checkpoint, '--work-dir',
            osp.join(work_dir, f'test_{name}'), '--metrics-out', out,
            '--cfg-options', *base_options(args, seed)
        ], log_file, env)
        with open(out) as f:
            metrics[name] = json.load(f)
    figures = {}
    for figure, (name, key, scale) in METRICS.items():
        value = metrics[name].get(key)
        missing = value is None or math.isnan(value)  # no such class
        figures[figure] = None if missing else value * scale
    return figures


def run_one(method, seed, args, threads, tag):
    """Train and test one (method, seed), or reuse its result.json; never
    raises: a failure is returned as a record with status 'failed'."""
    work_dir = osp.join(args.out_dir, 'runs', method.name, f'seed{seed}')
    result_file = osp.join(work_dir, 'result.json')
    log_file = osp.join(work_dir, 'run.log')
    if osp.isfile(result_file) and not args.force:
        with open(result_file) as f:
            record = json.load(f)
        log(f'{tag} {method.name} seed {seed}: reused {result_file}')
        return dict(record, reused=True)
    os.makedirs(work_dir, exist_ok=True)
    if osp.isfile(log_file):
        os.remove(log_file)
    record = dict(
        method=method.name, seed=seed, work_dir=work_dir, log=log_file)
    env = tool_env(threads, args.pretrained)
    try:
        log(f'{tag} {method.name} seed {seed}: training ...')
        ckpt, seconds, peak = train(method, work_dir, args, seed, log_file,
                                    env)
        log(f'{tag} {method.name} seed {seed}: testing ...')
        figures = test(method, ckpt, work_dir, args, seed, log_file, env)
    except Exception as e:  # reported; the other runs go on
        error = f'{method.name} seed {seed} failed: {e} (log: {log_file})'
        log(f'{tag} ERROR {error}')
        return dict(record, status='failed', error=error, reused=False)
    record.update(
        status='ok',
        checkpoint=ckpt,
        train_time_min=seconds / 60,
        peak_mem_mib=peak,
        **figures)
    with open(result_file, 'w') as f:
        json.dump(record, f, indent=2)
    log(f'{tag} {method.name} seed {seed}: done, novel mAP50 '
        f'{fmt_number(figures["novel_map50"], 1)}, '
        f'{seconds / 60:.1f} min')
    return dict(record, reused=False)


def summarize(values):
    """dict(mean, std, n) of the numbers among ``values``; std is the sample
    standard deviation (None for fewer than two)."""
    values = [v for v in values if v is not None]
    if not values:
        return dict(mean=None, std=None, n=0)
    std = statistics.stdev(values) if len(values) > 1 else None
    return dict(mean=statistics.fmean(values), std=std, n=len(values))


def aggregate(method, runs):
    """Per-method figures over the successful runs."""
    ok = [r for r in runs if r.get('status') == 'ok']
    agg = dict(
        method=method.name,
        title=method.title,
        supervision=method.supervision,
        configs=method.configs,
        seeds=[r['seed'] for r in ok],
        n=len(ok),
        failed=[r['seed'] for r in runs if r.get('status') != 'ok'])
    for figure in FIGURES:
        agg[figure] = summarize([r.get(figure) for r in ok])
    return agg


def fmt_number(value, decimals):
    return '-' if value is None else f'{value:.{decimals}f}'


def fmt_cell(stat, decimals):
    """'mean ± std' when std is defined, else 'mean', '-' when empty."""
    if stat['mean'] is None:
        return '-'
    cell = fmt_number(stat['mean'], decimals)
    if stat['std'] is not None:
        cell += f' ± {fmt_number(stat["std"], decimals)}'
    return cell


def markdown_table(aggregates):
    header = ['Method', 'Supervision', *(c[0] for c in COLUMNS), 'seeds']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
    for agg in aggregates:
        if agg['n'] == 0:
            cells = ['failed'] * len(COLUMNS)
        else:
            cells = [fmt_cell(agg[key], d) for _, key, d in COLUMNS]
        seeds = str(agg['n'])
        if agg['failed']:
            seeds += f' ({len(agg["failed"])} failed)'
        lines.append(
            '| ' +
            ' | '.join([agg['title'], agg['supervision'], *cells, seeds]) +
            ' |')
    return '\n'.join(lines) + '\n'


def run_all(args, methods):
    """Every (method, seed) through a pool of ``args.jobs`` workers; the
    records in METHODS order."""
    plan = [(m, s) for m in methods
            for s in range(args.seeds if m.multi_seed else 1)]
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(run_one, m, s, args, threads, f'[{i + 1}/{len(plan)}]')
            for i, (m, s) in enumerate(plan)
        ]
        return [f.result() for f in futures]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    for name in ('data_root', 'pretrained', 'out_dir'):
        setattr(args, name, osp.abspath(getattr(args, name)))
    os.makedirs(args.out_dir, exist_ok=True)
    data = prepare_inputs(args)
    methods = [m for m in METHODS if m.name in args.methods]
    runs = run_all(args, methods)
    aggregates = [
        aggregate(m, [r for r in runs if r['method'] == m.name])
        for m in methods
    ]
    table = markdown_table(aggregates)
    summary = dict(
        command=shlex.join(
            ['python', 'tools/analysis_tools/benchmark_table1.py', *argv]),
        date=datetime.datetime.now().isoformat(timespec='seconds'),
        git_commit=git_commit(),
        data_root=args.data_root,
        data_seed=data.get('seed', args.data_seed),
        data=data,
        pretrained=args.pretrained,
        pretrained_sha256=sha256_prefix(args.pretrained),
        units=dict(
            map50='percent',
            corloc='percent',
            train_time_min='minutes',
            peak_mem_mib='MiB (max resident set of the training process)'),
        methods=aggregates,
        runs=runs)
    json_file = osp.join(args.out_dir, 'table1.json')
    md_file = osp.join(args.out_dir, 'table1.md')
    with open(json_file, 'w') as f:
        json.dump(summary, f, indent=2)
    with open(md_file, 'w') as f:
        f.write(table)
    print(table)
    for r in runs:
        if r['status'] != 'ok':
            print(f'FAILED: {r["error"]}')
    print(json_file)
    print(md_file)
    return summary


if __name__ == '__main__':
    main()
