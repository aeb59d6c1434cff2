"""Running the jobs of the Table-1 benchmark
(tools/analysis_tools/benchmark_table1.py): one (method, seed) is trained
with tools/train.py, tested with tools/test.py (mAP on val, per-class AP50,
CorLoc on training images) and, for a DRN model, diagnosed stage by stage
with tools/analysis_tools/diagnose_drn.py; ``run_all`` runs them through a
pool, the longest first. Every tool runs in a subprocess from the
repository root: training in its own, a run's tests and diagnostics
together in one (tools/misc/run_in_one_process.py, so torch and mmdet are
imported once a run, not once a tool); nothing here imports the project or
torch. The figures are read back by table1_figures.py."""
import datetime
import json
import os
import os.path as osp
import shlex
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from table1_figures import (METRICS, PER_CLASS_KEY,  # noqa: F401
                            class_split, figures_of, load_config,
                            per_class_ap, resolved_config, run_figures,
                            sha256_prefix)
from table1_options import (LOADERS, NO_EPOCH_DIAG_INTERVAL,  # noqa: F401
                            NO_TRAIN_VAL, base_options, no_epoch_diagnostics,
                            split_options)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# CorLoc and the stage diagnostics use the first CORLOC_IMAGES / DIAG_IMAGES
# training images (DIAG_IMAGES: the benchmark's timed setting, README)
CORLOC_IMAGES = 240
DIAG_IMAGES = 120
DIAG_TOOL = 'tools/analysis_tools/diagnose_drn.py'
# a run's tests and diagnostics go through this one process (imports once)
EVAL_RUNNER = 'tools/misc/run_in_one_process.py'


def git_commit():
    """HEAD of the repository, with '-dirty' when the tree has changes."""

    def git(*args):
        return subprocess.run(['git', *args],
                              cwd=REPO_ROOT,
                              capture_output=True,
                              text=True).stdout.strip()

    commit = git('rev-parse', 'HEAD') or 'unknown'
    return commit + ('-dirty' if git('status', '--porcelain') else '')


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
_config_lock = threading.Lock()


class RunError(RuntimeError):
    pass


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


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def stage_dir(method, work_dir, i):
    """Work dir of training stage ``i`` (0-based) of ``method``."""
    if len(method.configs) == 1:
        return work_dir
    return osp.join(work_dir, f'stage{i + 1}')


def train(method, work_dir, args, seed, log_file, env):
    """Train every stage of ``method``; returns (checkpoint, seconds,
    peak MiB) with the time summed and the memory maxed over stages."""
    load_from, seconds, peak = None, 0.0, 0.0
    for i, config in enumerate(method.configs):
        folder = stage_dir(method, work_dir, i)
        # the backbone starts from CSOD_PRETRAINED (its init_cfg); a later
        # stage starts from the stage before
        prev = [f'load_from={load_from}'] if load_from else []
        quiet = [] if getattr(args, 'train_diagnostics', False) else \
            no_epoch_diagnostics(config)
        secs, mib = run_tool([
            'tools/train.py', config, '--work-dir', folder, '--cfg-options',
            *prev, NO_TRAIN_VAL, *quiet, *base_options(args, seed, config)
        ], log_file, env)
        seconds, peak = seconds + secs, max(peak, mib)
        load_from = last_checkpoint(folder)
    return load_from, seconds, peak


def test_steps(method, checkpoint, work_dir, args, seed):
    """The two tools/test.py steps of a run (``run_steps``'s plan
    entries): mAP on val and CorLoc on the training images, each in a work
    dir of its own under ``work_dir``, writing ``<name>_metrics.json``
    there (read back by table1_figures.run_figures)."""
    config = osp.join(REPO_ROOT, method.configs[-1])
    corloc_config = osp.join(work_dir, 'corloc_config.py')
    with open(corloc_config, 'w') as f:
        f.write(CORLOC_CONFIG.format(base=config, num_images=CORLOC_IMAGES))
    return [
        dict(name=name, optional=False, argv=[
            'tools/test.py', cfg_file, checkpoint, '--work-dir',
            osp.join(work_dir, f'test_{name}'), '--metrics-out',
            osp.join(work_dir, f'{name}_metrics.json'), '--cfg-options',
            *base_options(args, seed, method.configs[-1])
        ]) for name, cfg_file in (('val', config), ('corloc', corloc_config))
    ]


def diag_tool_exists():
    return osp.isfile(osp.join(REPO_ROOT, DIAG_TOOL))


def diag_step(method, record, args):
    """(the step, None) that diagnoses a run with diagnose_drn.py on the
    first ``args.diag_images`` training images, with the last stage's
    resolved config (data root and --cfg-options as trained); (None, the
    record's ``stages`` and ``diagnostics`` in words) when it is not run:
    not a DRN, --diag-images 0, no tool, an unreadable config."""
    folder = stage_dir(method, record['work_dir'], len(method.configs) - 1)
    config = resolved_config(folder, method.configs[-1])
    cfg = load_config(config)
    note = (f'skipped: cannot read {config}' if cfg is None else
            'not a DRN model' if (cfg.get('model') or {}).get('type') != 'DRN'
            else 'off (--diag-images 0)' if args.diag_images <= 0 else
            f'skipped: no {DIAG_TOOL}' if not diag_tool_exists() else None)
    if note:
        return None, dict(stages=None, diagnostics=note)
    out = osp.join(record['work_dir'], 'diagnostics.json')
    return dict(name='diagnostics', optional=True, argv=[
        DIAG_TOOL, config, record['checkpoint'], '--split', 'train',
        '--num-images', str(args.diag_images), '--out', out
    ]), None


def diag_result(step, done):
    """``stages``, ``diagnostics`` (the json, or what happened instead) and
    ``diag_time_min`` of a run from its diagnostics ``step`` and that
    step's record ``done`` (``run_steps``'s). Never raises: a failure
    there leaves the run's other figures."""
    if done['status'] != 'ok':
        return dict(stages=None, diagnostics=f'failed: {done["error"]}')
    out = step['argv'][step['argv'].index('--out') + 1]
    try:
        with open(out) as f:
            stages = json.load(f).get('stages')
    except (OSError, ValueError, AttributeError) as e:
        return dict(stages=None, diagnostics=f'failed: {out}: {e}')
    if not isinstance(stages, dict):
        return dict(
            stages=None, diagnostics=f'failed: {out} has no "stages" mapping')
    return dict(stages=stages, diagnostics=out,
                diag_time_min=done['seconds'] / 60)


def run_steps(steps, work_dir, log_file, env):
    """Run the tool ``steps`` of a run in one process (EVAL_RUNNER: torch
    and mmdet imported once, not once a tool); returns each step's record
    by name (``status``, ``seconds``, ``error``). Raises RunError when a
    step that is not ``optional`` did not finish."""
    plan = osp.join(work_dir, 'eval_plan.json')
    report = osp.join(work_dir, 'eval_report.json')
    with open(plan, 'w') as f:
        json.dump(dict(steps=steps), f, indent=2)
    if osp.isfile(report):
        os.remove(report)
    try:
        run_tool([EVAL_RUNNER, plan, '--report', report], log_file, env)
        crash = None
    except RunError as e:  # the report says how far it came
        crash = str(e)
    try:
        with open(report) as f:
            done = {r['name']: r for r in json.load(f)['steps']}
    except (OSError, ValueError, KeyError, TypeError):
        done = {}
    for step in steps:
        record = done.get(step['name'])
        if record is None or record['status'] in ('skipped', 'running'):
            what = 'did not finish' if record else 'did not run'
            done[step['name']] = record = dict(
                status='failed', seconds=None,
                error=f'{step["argv"][0]} {what} ({crash or "no report"})')
        if record['status'] != 'ok' and not step['optional']:
            raise RunError(record['error'])
    return done


def evaluate(method, record, args, seed, log_file, env):
    """Test (``test_steps``) and diagnose (``diag_step``) a trained run in
    one process; returns its figures (table1_figures.run_figures) with
    ``stages``, ``diagnostics`` and, when diagnosed, ``diag_time_min``.
    Raises RunError when a test failed."""
    steps = test_steps(method, record['checkpoint'], record['work_dir'], args,
                       seed)
    diag, note = diag_step(method, record, args)
    done = run_steps(steps + ([diag] if diag else []), record['work_dir'],
                     log_file, env)
    figures = run_figures(record['work_dir'], method.configs[-1])
    return dict(figures, **(note or diag_result(diag, done[diag['name']])))


def diagnose(method, record, args, log_file, env):
    """``diag_step`` and ``diag_result`` of a run that was tested before
    (a reused record); never raises."""
    diag, note = diag_step(method, record, args)
    if note:
        return note
    done = run_steps([diag], record['work_dir'], log_file, env)
    return diag_result(diag, done[diag['name']])


def _save(record, result_file):
    with open(result_file, 'w') as f:
        json.dump({k: v for k, v in record.items() if k != 'reused'},
                  f,
                  indent=2)


def _complete(record, method, args, env, result_file):
    """Fill what a reused record lacks: per-class AP from its
    val_metrics.json, its checkpoint's hash, stage diagnostics when the
    tool has appeared since (or failed before)."""
    changed = False
    val_file = osp.join(record['work_dir'], 'val_metrics.json')
    if 'novel_ap50_per_class' not in record and osp.isfile(val_file):
        with open(val_file) as f:
            metrics = json.load(f)
        cfg = load_config(
            resolved_config(
                osp.join(record['work_dir'], 'test_val'), method.configs[-1]))
        base, novel = per_class_ap(metrics, cfg)
        record.update(base_ap50_per_class=base, novel_ap50_per_class=novel)
        changed = True
    ckpt = record.get('checkpoint')
    if 'checkpoint_sha256' not in record and ckpt and osp.isfile(ckpt):
        record['checkpoint_sha256'] = sha256_prefix(ckpt)
        changed = True
    note = str(record.get('diagnostics', ''))
    retry = not note or note.startswith(('skipped', 'failed', 'off'))
    if (record.get('stages') is None and retry and args.diag_images > 0
            and diag_tool_exists() and osp.isfile(record['checkpoint'])):
        record.update(diagnose(method, record, args, record['log'], env))
        changed = True
    if changed:
        _save(record, result_file)
    return record


def run_one(method, seed, args, threads, tag):
    """Train, test and diagnose one (method, seed), or reuse its
    result.json; never raises: a failure is returned as a record with
    status 'failed'."""
    work_dir = osp.join(args.out_dir, 'runs', method.name, f'seed{seed}')
    result_file = osp.join(work_dir, 'result.json')
    log_file = osp.join(work_dir, 'run.log')
    env = tool_env(threads, args.pretrained)
    if osp.isfile(result_file) and not args.force:
        with open(result_file) as f:
            record = json.load(f)
        log(f'{tag} {method.name} seed {seed}: reused {result_file}')
        record = _complete(record, method, args, env, result_file)
        return dict(record, reused=True)
    os.makedirs(work_dir, exist_ok=True)
    if osp.isfile(log_file):
        os.remove(log_file)
    # the commit the run is trained at: a later command may reuse it
    record = dict(
        method=method.name,
        seed=seed,
        work_dir=work_dir,
        log=log_file,
        git_commit=git_commit())
    try:
        log(f'{tag} {method.name} seed {seed}: training ...')
        ckpt, seconds, peak = train(method, work_dir, args, seed, log_file,
                                    env)
        record.update(
            checkpoint=ckpt, checkpoint_sha256=sha256_prefix(ckpt),
            train_time_min=seconds / 60, peak_mem_mib=peak)
        log(f'{tag} {method.name} seed {seed}: testing ...')
        figures = evaluate(method, record, args, seed, log_file, env)
    except Exception as e:  # reported; the other runs go on
        error = f'{method.name} seed {seed} failed: {e} (log: {log_file})'
        log(f'{tag} ERROR {error}')
        return dict(record, status='failed', error=error, reused=False)
    record.update(status='ok', **figures)
    if record['diagnostics'].startswith('failed'):
        log(f'{tag} note: {method.name} seed {seed} diagnostics '
            f'{record["diagnostics"]} (log: {log_file})')
    _save(record, result_file)
    novel = figures['novel_map50']
    log(f'{tag} {method.name} seed {seed}: done, novel mAP50 '
        f'{"-" if novel is None else f"{novel:.1f}"}, '
        f'{seconds / 60:.1f} min')
    return dict(record, reused=False)


def prior_minutes(files):
    """method -> mean training minutes of its runs in the first readable
    benchmark json of ``files`` (empty when none)."""
    for path in files:
        try:
            with open(path) as f:
                runs = json.load(f).get('runs') or []
        except (OSError, ValueError, AttributeError):
            continue
        times = {}
        for r in runs:
            if isinstance(r, dict) and isinstance(
                    r.get('train_time_min'), (int, float)):
                times.setdefault(r.get('method'),
                                 []).append(r['train_time_min'])
        if times:
            return {m: statistics.fmean(v) for m, v in times.items()}
    return {}


def job_cost(method, seed, args, prior):
    """Expected minutes of one job: 0 when its result.json is reused, else
    the method's time in ``prior``, else its number of training stages
    times the mean prior time (1 without any)."""
    result = osp.join(args.out_dir, 'runs', method.name, f'seed{seed}',
                      'result.json')
    if osp.isfile(result) and not args.force:
        return 0.0
    if method.name in prior:
        return prior[method.name]
    unit = statistics.fmean(prior.values()) if prior else 1.0
    return len(method.configs) * unit


def run_all(args, methods, prior=None):
    """Every (method, seed) through a pool of ``args.jobs`` workers,
    submitted longest first (``job_cost``) so the workers finish together;
    the records in ``methods`` order."""
    first = args.first_seed
    plan = [(m, s) for m in methods
            for s in range(first, first + (args.seeds if m.multi_seed else 1))]
    order = sorted(
        range(len(plan)),
        key=lambda i: -job_cost(*plan[i], args, prior or {}))
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    futures = {}
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for k, i in enumerate(order):
            m, s = plan[i]
            futures[i] = pool.submit(run_one, m, s, args, threads,
                                     f'[{k + 1}/{len(plan)}]')
        return [futures[i].result() for i in range(len(plan))]
