"""Run several of the project's command-line tools in one Python process.

    python tools/misc/run_in_one_process.py PLAN.json [--report REPORT.json]

Each tool (tools/test.py, tools/analysis_tools/diagnose_drn.py, ...) is a
process of its own when run from the shell, and each such process imports
torch, mmcv, mmdet and the project before it does anything (seconds on a
busy CPU). A caller that runs several tools on one checkpoint in a row (the
Table-1 benchmark: the val test, the CorLoc test and the stage diagnostics
of every run) pays that once here: the tools are loaded as modules from
their files and their ``main(argv)`` called in turn, with the argument lists
they would get on the command line. What each tool computes is the same as
in a process of its own (they share no state but the imported modules and
mmengine's named instances, which are named after config and time; the
visualizer, which MMDetection's configs name 'visualizer' whatever the
config, is dropped before each step).

PLAN.json::

    {"steps": [{"name": "val", "argv": ["tools/test.py", "CONFIG", ...],
                "optional": false}, ...]}

``argv[0]`` is the tool's path from the repository root. A step whose tool
raises or exits non-zero is recorded as failed; after a failed step that is
not ``optional`` the remaining steps are skipped and the process exits 1.
``--report`` is written after every step (so a crash keeps what ran):
``{"steps": [{"name", "argv", "status", "seconds", "error"}]}``, status
"ok", "failed", "skipped" (not reached) or "running" (the process ended
inside it); seconds: the tool's own, the shared imports excluded.
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import sys
import time
import traceback

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the tools import their start-up helpers (_bootstrap) from tools/
for _path in (REPO_ROOT, osp.join(REPO_ROOT, 'tools')):
    if _path not in sys.path:
        sys.path.insert(0, _path)


class PlanError(ValueError):
    """A plan file that is not a list of steps."""


def read_plan(path):
    """The steps of the plan file ``path``: a list of dicts with ``name``
    (str), ``argv`` (a non-empty list of str, argv[0] a tool's path from
    the repository root) and ``optional`` (bool, default False)."""
    with open(path) as f:
        try:
            plan = json.load(f)
        except ValueError as e:
            raise PlanError(f'{path}: not JSON ({e})') from None
    steps = plan.get('steps') if isinstance(plan, dict) else None
    if not isinstance(steps, list) or not steps:
        raise PlanError(f'{path}: expected {{"steps": [...]}} with at least '
                        'one step')
    for i, step in enumerate(steps):
        where = f'{path}: steps[{i}]'
        if not isinstance(step, dict) or not isinstance(
                step.get('name'), str):
            raise PlanError(f'{where}: a step needs a "name" (a string)')
        argv = step.get('argv')
        if (not isinstance(argv, list) or not argv
                or not all(isinstance(a, str) for a in argv)):
            raise PlanError(f'{where} ({step["name"]}): "argv" must be a '
                            'non-empty list of strings')
        tool = osp.join(REPO_ROOT, argv[0])
        if not osp.isfile(tool):
            raise PlanError(f'{where} ({step["name"]}): no tool {argv[0]} '
                            f'under {REPO_ROOT}')
        step.setdefault('optional', False)
    return steps


def load_tool(path, index):
    """The tool at ``path`` (from the repository root) as a fresh module
    with its ``main``."""
    name = '_step{}_{}'.format(index,
                               osp.splitext(osp.basename(path))[0])
    spec = importlib.util.spec_from_file_location(name,
                                                  osp.join(REPO_ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, 'main', None)):
        raise PlanError(f'{path} has no main(argv)')
    return module


def forget_visualizers():
    """Drop mmengine's named visualizer instances (every Visualizer class).

    mmengine keeps one instance per name and process, and MMDetection's
    configs name theirs 'visualizer': the next tool's Runner would be handed
    the previous tool's, and write its config dump and scalars into the
    previous tool's work dir. Each step starts without one.
    """
    if 'mmengine.visualization' not in sys.modules:
        return
    from mmengine.visualization import Visualizer
    classes = [Visualizer]
    while classes:
        cls = classes.pop()
        cls._instance_dict.clear()
        classes.extend(cls.__subclasses__())


def run_step(step, index):
    """Run one step; returns (status, seconds, error or None)."""
    forget_visualizers()
    start = time.perf_counter()
    try:
        load_tool(step['argv'][0], index).main(step['argv'][1:])
    except SystemExit as e:  # argparse and the tools' own exits
        if e.code not in (None, 0):
            return 'failed', time.perf_counter() - start, (
                f'{step["argv"][0]} exited with {e.code}')
    except Exception as e:  # recorded; the caller decides
        traceback.print_exc()
        return 'failed', time.perf_counter() - start, (
            f'{step["argv"][0]}: {type(e).__name__}: {e}')
    return 'ok', time.perf_counter() - start, None


def run_plan(steps, report=None):
    """Run ``steps`` (``read_plan``'s) in order, writing ``report`` after
    each; returns the step records."""
    records = [
        dict(name=s['name'], argv=s['argv'], status='skipped',
             seconds=None, error=None) for s in steps
    ]

    def write():
        if report:
            os.makedirs(osp.dirname(osp.abspath(report)), exist_ok=True)
            with open(report, 'w') as f:
                json.dump(dict(steps=records), f, indent=2)

    write()
    for i, step in enumerate(steps):
        print(f'\n== step {step["name"]}: {" ".join(step["argv"])}',
              flush=True)
        records[i]['status'] = 'running'
        write()
        status, seconds, error = run_step(step, i)
        records[i].update(status=status, seconds=seconds, error=error)
        write()
        print(f'== step {step["name"]}: {status} in {seconds:.1f} s' +
              (f' ({error})' if error else ''), flush=True)
        if status == 'failed' and not step['optional']:
            break
    return records


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('plan', help='the plan file (json)')
    parser.add_argument('--report', help='write the steps\' records here')
    args = parser.parse_args(argv)
    try:
        steps = read_plan(args.plan)
    except (OSError, PlanError) as e:
        raise SystemExit(f'error: {e}')
    records = run_plan(steps, args.report)
    if any(r['status'] == 'failed' and not s['optional']
           for r, s in zip(records, steps)):
        raise SystemExit(1)
    return records


if __name__ == '__main__':
    main()
