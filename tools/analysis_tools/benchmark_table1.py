"""The paper's Table 1 on the generated dataset, every method on CPU.

    python tools/analysis_tools/benchmark_table1.py
        [--data-root data/synthetic_table1_loads] [--no-cart-loads]
        [--family default|yard]
        [--num-train 480] [--num-val 200] [--data-seed 1]
        [--pretrained checkpoints/small_vgg_crops.pth]
        [--jobs 2] [--methods wsddn oicr ... ours ours-plus full] [--seeds 3]
        [--first-seed 0]
        [--out-dir work_dirs/benchmarks/table1] [--publish-dir benchmarks]
        [--diag-images 120] [--force] [--cfg-options KEY=VALUE ...]

Each method's tiny config is trained with tools/train.py from the pretrained
backbone (``--pretrained``, handed to the configs' backbone init_cfg as
``CSOD_PRETRAINED``), once per seed (``--seeds`` seeds for OICR, Two Head,
Ours w/o SCM, Ours and Ours+, seed 0 for the others), in
``OUT_DIR/runs/<method>/seed<S>``; Finetune trains its two stages in turn,
the second from the first's last checkpoint. Ours+ (configs/csod/
drn-plus_tiny_synthetic.py) is beyond the paper. tools/test.py then
measures mAP at IoU 0.5 on the val images (all, base and novel classes, and
AP50 per class: SplitVOCMetric; the split is the val dataset's metainfo in
the test's resolved config) and CorLoc on the first 240 training images
(CorLocMetric, the WSOD convention of localising on the training set). A
run whose model is a DRN is then diagnosed stage by stage on the first
``--diag-images`` training images (tools/analysis_tools/diagnose_drn.py with
the run's resolved training config; CorLoc, mean IoU and SCM fallback of the
recognition head, SCM, pseudo ground truth and detection head, for base and
novel classes on all, touching and free objects); skipped with a note when
that tool is missing, and a failure there leaves the run's other figures.
A run's two tests and its diagnostics run in one process
(tools/misc/run_in_one_process.py: torch and mmdet imported once a run).

Training time is the wall clock of the training process(es), peak memory
their largest resident set (``ru_maxrss`` from ``os.wait4``); ``--jobs``
runs that many in parallel, each with cpu_count // jobs threads, the
longest jobs submitted first (the previous benchmark json's training
times, else the number of training stages) so the workers finish together.
On 2 cores the whole table (21 runs, ``--diag-images 120``, the backbone
already there, the data generated: 1.3 min) took 57.2 min at commit 11cff22:
training 2.7-6.0 min a run (83 min in all), tests and diagnostics about 1.2
min a run (``--diag-images`` trims the diagnostics, 0 drops them). The
training loop's own val pass is skipped (``NO_TRAIN_VAL`` in
table1_runs.py): the val figures are tools/test.py's; so is the DRN
configs' per-epoch DRNDiagnosticsHook (``no_epoch_diagnostics``; the run is
diagnosed once after training, and the hook does not change the training:
``--train-diagnostics`` keeps it). The wall time is
printed at the end and stored as ``wall_time_min``.

The data root is generated (tools/dataset_converters/make_synthetic.py, with
``--cart-loads`` unless ``--no-cart-loads``) and
the backbone pretrained (tools/misc/pretrain_backbone.py) when missing. A run
whose ``result.json`` exists is reused unless ``--force``, so an interrupted
benchmark resumes (a reused run gets the per-class AP or diagnostics it
lacks); a failed run is reported and the others go on. The
``--cfg-options`` are appended to every training and test command. Writes
``OUT_DIR/table1.json`` (every run's figures, per-method mean and sample std
over seeds, per-class AP50 and the lowest novel one, stage figures, the
command, the data's arguments and hash, the backbone's and every trained
checkpoint's hash, git commit and wall time) and
``OUT_DIR/table1.md`` (the table, novel AP50 per class and per seed, where
the chain loses), and the same two files into ``--publish-dir`` (default
benchmarks/ in the repository; '' for none).

The jobs are run by table1_runs.py, aggregated and reported by
table1_report.py (beside this file).
"""
import argparse
import datetime
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import time
from collections import namedtuple

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:  # the parts below, also when loaded by path
    sys.path.append(_HERE)

import table1_report  # noqa: E402,F401
import table1_runs  # noqa: E402,F401
from table1_figures import sha256_prefix, tree_sha256  # noqa: E402
from table1_report import (COLUMNS, FIGURES, aggregate,  # noqa: E402,F401
                           fmt_cell, fmt_number, markdown_report,
                           markdown_table, summarize, write_outputs)
from table1_runs import (CORLOC_CONFIG, CORLOC_IMAGES,  # noqa: E402,F401
                         DIAG_IMAGES, DIAG_TOOL, LOADERS, METRICS, REPO_ROOT,
                         RunError, base_options, diag_tool_exists, git_commit,
                         log,
                         prior_minutes, run_all, run_one, run_tool, evaluate,
                         tool_env, train)

# Since issue 9 the table's data have base carriers (a cart may carry a
# bottle, as a horse its rider: make_synthetic.py --cart-loads), so the SCM
# learns from boxed carried/carrier pairs. Each kind of data has its own
# default root: the one with carriers, and generator version 1.0's scenes
# (--no-cart-loads) where the table used to be.
DATA_ROOT = 'data/synthetic_table1_loads'
DATA_ROOT_V1 = 'data/synthetic_table1'
# --family yard: the second scene family (make_synthetic.py --family yard),
# other classes, shapes and configurations than the ones the methods were
# developed on; its class split (the first five of the generated json's
# categories base, the others novel) is handed to every config with
# --cfg-options (table1_runs.split_options), the configs unchanged.
DATA_ROOT_YARD = 'data/synthetic_yard'
NUM_TRAIN = 480
NUM_VAL = 200
NUM_SEEDS = 3
PUBLISH_DIR = osp.join(REPO_ROOT, 'benchmarks')

Method = namedtuple('Method', 'name title supervision configs multi_seed')
# The paper's row order: weak-only, cross-supervised baselines, ours, then
# the fully supervised upper bound; Ours+ (beyond the paper) after ours.
# Finetune's configs are its two stages.
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
    Method('ours-plus', 'Ours+ (beyond the paper)', 'cross',
           ['configs/csod/drn-plus_tiny_synthetic.py'], True),
    Method('full', 'Full supervision', 'full',
           ['configs/fast_rcnn/fast_rcnn_small-vgg_synthetic-full.py'], False),
]
METHOD_NAMES = [m.name for m in METHODS]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--data-root',
        help=f'default: {DATA_ROOT}, {DATA_ROOT_V1} with --no-cart-loads, '
        f'{DATA_ROOT_YARD} with --family yard')
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
        '--family',
        choices=('default', 'yard'),
        default='default',
        help='scene family of the generated data (make_synthetic.py '
        '--family): yard = scenes the methods were not developed on, the '
        'configs given its classes on the command line (default root '
        f'{DATA_ROOT_YARD})')
    parser.add_argument(
        '--cart-loads',
        action=argparse.BooleanOptionalAction,
        default=None,
        help='generate the data root with carts that may carry a bottle '
        '(make_synthetic.py --cart-loads; the default since issue 9); '
        '--no-cart-loads: generator version 1.0\'s scenes')
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
    multi = ', '.join(m.title for m in METHODS if m.multi_seed)
    parser.add_argument(
        '--seeds',
        type=int,
        default=NUM_SEEDS,
        help=f'seeds of the methods with a spread ({multi}); one seed for '
        'the others')
    parser.add_argument(
        '--first-seed',
        type=int,
        default=0,
        help='the seeds are FIRST_SEED, FIRST_SEED + 1, ...: more seeds of '
        'an experiment in the same --out-dir, its earlier runs reused')
    parser.add_argument('--out-dir', default='work_dirs/benchmarks/table1')
    parser.add_argument(
        '--publish-dir',
        default=PUBLISH_DIR,
        help='also write table1.json and table1.md here (default: '
        'benchmarks/ in the repository; "" for none)')
    parser.add_argument(
        '--diag-images',
        type=int,
        default=DIAG_IMAGES,
        help=f'training images of the stage diagnostics of a DRN run '
        f'({DIAG_TOOL}); 0 for none')
    parser.add_argument(
        '--train-diagnostics',
        action='store_true',
        help='keep the DRN configs\' per-epoch stage figures '
        '(DRNDiagnosticsHook) in the timed training; by default the run is '
        'diagnosed once, after training (training is the same either way)')
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
    if args.family == 'yard':
        if args.cart_loads:
            parser.error('--cart-loads is an option of the default family')
        args.cart_loads = False
    elif args.cart_loads is None:
        args.cart_loads = True
    if args.data_root is None:
        args.data_root = (DATA_ROOT_YARD if args.family == 'yard' else
                          DATA_ROOT if args.cart_loads else DATA_ROOT_V1)
    if (args.jobs < 1 or args.seeds < 1 or args.diag_images < 0
            or args.first_seed < 0):
        parser.error('--jobs and --seeds must be >= 1, --diag-images and '
                     '--first-seed >= 0')
    return args


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
        ] + (['--cart-loads'] if args.cart_loads else []) +
                       (['--family', args.family]
                        if args.family != 'default' else []),
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
        coco = json.load(f)
    data = coco.get('info', {}).get('args', {})
    wanted = dict(
        num_train=args.num_train,
        num_val=args.num_val,
        seed=args.data_seed,
        cart_loads=args.cart_loads,
        family=args.family)
    # recorded only when not the default
    recorded = {'cart_loads': False, 'family': 'default', **data}
    if data and any(recorded.get(k) != v for k, v in wanted.items()):
        log(f'note: {args.data_root} exists and was generated with {data}; '
            'it is used as it is')
    args.class_split = None
    if args.family == 'yard':
        args.class_split = yard_split(coco, ann)
    return data


def yard_split(coco, ann):
    """The yard family's class split from its train.json ``coco``
    (read from ``ann``): its ten categories in id order, the first five
    base, the others novel."""
    names = [c['name'] for c in sorted(coco.get('categories', []),
                                       key=lambda c: c['id'])]
    if len(names) != 10:
        raise SystemExit(f'{ann}: the yard family has 10 categories, this '
                         f'file has {len(names)}')
    return dict(
        classes=names, base_classes=names[:5], novel_classes=names[5:])


def main(argv=None):
    start = time.perf_counter()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    for name in ('data_root', 'pretrained', 'out_dir'):
        setattr(args, name, osp.abspath(getattr(args, name)))
    if args.publish_dir:
        args.publish_dir = osp.abspath(args.publish_dir)
    os.makedirs(args.out_dir, exist_ok=True)
    data = prepare_inputs(args)
    methods = [m for m in METHODS if m.name in args.methods]
    for m in methods:
        missing = [
            c for c in m.configs if not osp.isfile(osp.join(REPO_ROOT, c))
        ]
        if missing:
            log(f'note: {m.name}: no {" ".join(missing)}; its runs will fail')
    if args.diag_images and not diag_tool_exists():
        log(f'note: no {DIAG_TOOL}; the DRN runs are not diagnosed')
    folders = [args.out_dir] + ([args.publish_dir] if args.publish_dir else [])
    prior = prior_minutes([osp.join(f, 'table1.json') for f in folders])
    runs = run_all(args, methods, prior)
    aggregates = [
        aggregate(m, [r for r in runs if r['method'] == m.name])
        for m in methods
    ]
    wall_time_min = (time.perf_counter() - start) / 60
    summary = dict(
        command=shlex.join(
            ['python', 'tools/analysis_tools/benchmark_table1.py', *argv]),
        date=datetime.datetime.now().isoformat(timespec='seconds'),
        git_commit=git_commit(),
        wall_time_min=wall_time_min,
        data_root=args.data_root,
        data_seed=data.get('seed', args.data_seed),
        data=data,
        data_sha256=tree_sha256(args.data_root),
        class_split=getattr(args, 'class_split', None),
        pretrained=args.pretrained,
        pretrained_sha256=sha256_prefix(args.pretrained),
        units=dict(
            map50='percent',
            ap50_per_class='percent',
            corloc='percent',
            stages='percent (count: image-class pairs)',
            train_time_min='minutes',
            diag_time_min='minutes (stage diagnostics of a DRN run)',
            wall_time_min='minutes (the whole command)',
            peak_mem_mib='MiB (max resident set of the training process)'),
        methods=aggregates,
        runs=runs)
    report = markdown_report(aggregates, runs, wall_time_min)
    paths = write_outputs(summary, report, folders)
    print(report)
    for r in runs:
        if r['status'] != 'ok':
            print(f'FAILED: {r["error"]}')
    for path in paths:
        print(path)
    print(f'wall time {wall_time_min:.1f} min')
    return summary


if __name__ == '__main__':
    main()
