"""Model-zoo metadata: check the metafiles, fill in the Table-1 benchmark.

The metafiles follow MMDetection's format (``Collections`` and ``Models``)
and live beside the configs: ``configs/csod/metafile.yml`` (with the
ablations), ``configs/wsod/metafile.yml`` and
``configs/fast_rcnn/metafile.yml``. Every config of those folders has one
model entry whose ``Name`` is the config's file stem.

Results come from two sources, told apart by ``Source`` in each Results
entry: ``paper`` (numbers read from the CSOD paper, never measured here,
never touched by this script) and ``benchmark`` (written by this script from
the Table-1 benchmark json on the generated dataset).

Usage::

    # validate the metafiles only (exit status 1 names the problems)
    python tools/analysis_tools/model_zoo.py --check

    # write the benchmark's numbers into the metafiles and regenerate the
    # README's model-zoo table (between the model-zoo marker comments)
    python tools/analysis_tools/model_zoo.py \\
        --benchmark work_dirs/benchmarks/table1/table1.json \\
        [--publish-dir work_dirs/benchmarks/table1/zoo]

    # regenerate the README table from the metafiles alone
    python tools/analysis_tools/model_zoo.py --readme-only

A second run with the same json changes no byte.
"""
import argparse
import os
import os.path as osp
import sys
from pathlib import Path

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:  # the parts below, also when loaded by path
    sys.path.append(_HERE)

from model_zoo_benchmark import (BENCH_METRICS, PUBLISHED,  # noqa: E402,F401
                                 apply_benchmark, apply_entry,
                                 benchmark_entries, read_benchmark)
from model_zoo_metafiles import (CONFIG_DIRS, ROOT,  # noqa: E402,F401
                                 MetafileError, write_if_changed, check,
                                 find_configs, find_metafiles,
                                 format_metafile, iter_models, load_all,
                                 load_metafile)
from model_zoo_readme import (MARK_END, MARK_START,  # noqa: E402,F401
                              render_table, table_row, update_readme)

DEFAULT_BENCHMARK = 'work_dirs/benchmarks/table1/table1.json'


# -------------------------------------------------------------- commands
def _relative(path, root):
    path = Path(path).resolve()
    try:
        return path.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def update(root=ROOT, benchmark=None, readme=None, publish_dir=None):
    """Fill in a benchmark (optional) and regenerate the README table.

    Returns the paths that changed.
    """
    root = Path(root)
    problems = check(root)
    if problems:
        raise MetafileError('\n'.join(problems))
    metas = load_all(root)
    if benchmark is not None:
        bench = read_benchmark(benchmark)
        entries = benchmark_entries(bench, _relative(benchmark, root),
                                    publish_dir, root)
        for stem in apply_benchmark(metas, entries):
            print(
                f'no metafile entry for benchmarked config {stem}',
                file=sys.stderr)
    changed = [
        path for path, (header, data) in metas.items()
        if write_if_changed(path, format_metafile(header, data))
    ]
    readme = Path(readme) if readme else root / 'README.md'
    if update_readme(readme, render_table(metas)):
        changed.append(readme)
    return changed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--benchmark',
        default=DEFAULT_BENCHMARK,
        help='Table-1 benchmark json (relative to the repository root)')
    parser.add_argument(
        '--check', action='store_true', help='only validate the metafiles')
    parser.add_argument(
        '--readme-only',
        action='store_true',
        help='regenerate the README table without a benchmark json')
    parser.add_argument(
        '--publish-dir',
        help='publish the first seed\'s checkpoint of every benchmarked '
        'model here; the Download column names the published files')
    parser.add_argument('--root', default=str(ROOT), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    root = Path(args.root)
    if args.check:
        problems = check(root)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f'{len(problems)} problem(s) in the metafiles')
        return 1 if problems else 0
    benchmark = None
    if not args.readme_only:
        benchmark = Path(args.benchmark)
        if not benchmark.is_absolute():
            benchmark = root / benchmark
    try:
        changed = update(root, benchmark, publish_dir=args.publish_dir)
    except MetafileError as err:
        print(err, file=sys.stderr)
        return 1
    for path in changed:
        print(f'updated {os.path.relpath(path)}')
    if not changed:
        print('nothing changed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
