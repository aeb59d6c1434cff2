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
import json
import os
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIRS = ('configs/csod', 'configs/wsod', 'configs/fast_rcnn')
DEFAULT_BENCHMARK = 'work_dirs/benchmarks/table1/table1.json'
MARK_START = '<!-- model-zoo:start -->'
MARK_END = '<!-- model-zoo:end -->'
SYNTHETIC = 'synthetic CSOD (generated)'
TASK = 'Object Detection'
NONE = '\u2014'

COLLECTION_KEYS = ('Name', 'Metadata', 'Paper', 'README', 'Code')
MODEL_KEYS = ('Name', 'In Collection', 'Config', 'Metadata', 'Results',
              'Weights')
REQUIRED_MODEL_KEYS = ('Name', 'In Collection', 'Config', 'Metadata',
                       'Weights')
TABLE_METADATA = ('Method', 'Backbone', 'Proposals', 'Schedule')
RESULT_KEYS = ('Task', 'Dataset', 'Source', 'Metrics')
SOURCES = ('paper', 'benchmark')
# metric name in the metafile -> (benchmark json keys, scale); the first
# key present wins (tools/analysis_tools/benchmark_table1.py writes the
# second spelling, the train time in minutes)
BENCH_METRICS = {
    'base AP50': (('base_mAP50', 'base_map50'), 1),
    'novel AP50': (('novel_mAP50', 'novel_map50'), 1),
    'novel CorLoc': (('novel_corloc', 'corloc_novel'), 1),
    'train time (min)': (('train_time_s', 'train_time_min'), (1 / 60, 1)),
}
NO_STD = ('train time (min)', )
# a file name as tools/model_converters/publish_model.py writes it
PUBLISHED = re.compile(r'.+-[0-9a-f]{8}\.pth$')
MEMORY_KEY = 'Training Memory (MiB)'
COLUMNS = ('Method', 'Backbone', 'Proposals', 'Schedule', 'base AP50',
           'novel AP50', 'CorLoc', 'Config', 'Download')


class MetafileError(Exception):
    """A metafile, the benchmark json or the README cannot be used."""


# ---------------------------------------------------------------- yaml I/O
class _Dumper(yaml.SafeDumper):
    """Indent lists under their key, as mmdet's metafiles do."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data):
        return True


def _dump(data):
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=79)


def _split_header(text):
    """The leading comment block (kept verbatim) and the YAML body."""
    lines = text.splitlines(keepends=True)
    n = 0
    while n < len(lines) and (lines[n].startswith('#')
                              or not lines[n].strip()):
        n += 1
    return ''.join(lines[:n]), ''.join(lines[n:])


def load_metafile(path):
    """Return ``(header, data)`` of a metafile."""
    text = Path(path).read_text(encoding='utf-8')
    header, _ = _split_header(text)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise MetafileError(f'{path}: not valid YAML: {err}') from err
    if not isinstance(data, dict):
        raise MetafileError(f'{path}: not a mapping')
    return header, data


def format_metafile(header, data):
    """The canonical text: header, collections, one block per model."""
    parts = [header]
    if 'Collections' in data:
        parts.append(_dump({'Collections': data['Collections']}) + '\n')
    parts.append('Models:\n')
    blocks = []
    for model in data.get('Models') or []:
        text = _dump({'Models': [_ordered_model(model)]})
        blocks.append(text.split('\n', 1)[1])
    parts.append('\n'.join(blocks))
    return ''.join(parts)


def _write_if_changed(path, text):
    path = Path(path)
    if path.exists() and path.read_text(encoding='utf-8') == text:
        return False
    path.write_text(text, encoding='utf-8')
    return True


def _ordered_model(model):
    """The model's keys in the canonical order, unknown keys last."""
    out = {k: model[k] for k in MODEL_KEYS if k in model}
    out.update((k, v) for k, v in model.items() if k not in out)
    return out


# ------------------------------------------------------------ discovery
def find_metafiles(root):
    """Every metafile.yml under the model-zoo config folders, in order."""
    root = Path(root)
    found = []
    for folder in CONFIG_DIRS:
        found.extend(sorted((root / folder).rglob('metafile.yml')))
    return found


def find_configs(root):
    """Every config .py under the model-zoo folders, repo-relative."""
    root = Path(root)
    configs = []
    for folder in CONFIG_DIRS:
        for path in sorted((root / folder).rglob('*.py')):
            if '_base_' not in path.parts and path.name != '__init__.py':
                configs.append(path.relative_to(root).as_posix())
    return configs


def load_all(root):
    """``{metafile path: (header, data)}`` for every metafile."""
    return {path: load_metafile(path) for path in find_metafiles(root)}


def iter_models(metas):
    for path, (_, data) in metas.items():
        for model in data.get('Models') or []:
            yield path, model


# ---------------------------------------------------------------- check
def _check_collection(where, coll):
    if not isinstance(coll, dict):
        return [f'{where}: a collection is not a mapping']
    missing = [k for k in COLLECTION_KEYS if k not in coll]
    if missing:
        return [f'{where}: collection {coll.get("Name")!r} lacks {missing}']
    return []


def _check_results(where, results):
    if not isinstance(results, list) or not results:
        return [f'{where}: Results must be a non-empty list']
    problems = []
    for res in results:
        if not isinstance(res, dict):
            problems.append(f'{where}: a Results entry is not a mapping')
            continue
        missing = [k for k in RESULT_KEYS if k not in res]
        if missing:
            problems.append(f'{where}: a Results entry lacks {missing}')
        elif res['Source'] not in SOURCES:
            problems.append(f'{where}: Source must be one of {SOURCES}')
        elif not isinstance(res['Metrics'], dict) or not res['Metrics']:
            problems.append(f'{where}: Metrics must be a non-empty mapping')
    return problems


def _check_model(root, where, model, collections):
    if not isinstance(model, dict):
        return [f'{where}: a model entry is not a mapping']
    missing = [k for k in REQUIRED_MODEL_KEYS if k not in model]
    if missing:
        return [f'{where}: model {model.get("Name")!r} lacks {missing}']
    name, config = model['Name'], str(model['Config'])
    where = f'{where}: model {name!r}'
    problems = []
    if not (Path(root) / config).is_file():
        problems.append(f'{where}: Config {config} does not exist')
    if Path(config).stem != name:
        problems.append(f'{where}: Name is not the stem of {config}')
    if model['In Collection'] not in collections:
        problems.append(f'{where}: unknown collection '
                        f'{model["In Collection"]!r}')
    meta = model['Metadata'] if isinstance(model['Metadata'], dict) else {}
    lacking = [k for k in TABLE_METADATA if k not in meta]
    if lacking:
        problems.append(f'{where}: Metadata lacks {lacking}')
    if 'Results' in model:
        problems += _check_results(where, model['Results'])
    return problems


def _check_structure(root, metas):
    problems, collections = [], set()
    for path, (_, data) in metas.items():
        for key in ('Collections', 'Models'):
            if not isinstance(data.get(key), list):
                problems.append(f'{path}: no {key} list')
        for coll in data.get('Collections') or []:
            problems += _check_collection(path, coll)
            if isinstance(coll, dict):
                collections.add(coll.get('Name'))
            if isinstance(coll, dict) and coll.get('README') and not (
                    Path(root) / str(coll['README'])).is_file():
                problems.append(f'{path}: README {coll["README"]} missing')
    for path, model in iter_models(metas):
        problems += _check_model(root, path, model, collections)
    return problems


def _check_coverage(root, metas):
    problems, names, listed = [], {}, set()
    for path, model in iter_models(metas):
        if not isinstance(model, dict):
            continue
        name = model.get('Name')
        if name in names:
            problems.append(f'{path}: model name {name!r} repeats one in '
                            f'{names[name]}')
        names.setdefault(name, path)
        listed.add(str(model.get('Config')))
    for config in find_configs(root):
        if config not in listed:
            problems.append(f'{config}: no model entry in any metafile')
    return problems


def check(root=ROOT):
    """Return the list of problems of the metafiles under ``root``."""
    root = Path(root)
    try:
        metas = load_all(root)
    except MetafileError as err:
        return [str(err)]
    if not metas:
        return [f'{root}: no metafile.yml under {", ".join(CONFIG_DIRS)}']
    return _check_structure(root, metas) + _check_coverage(root, metas)


# ------------------------------------------------------------ benchmark
def _stat(value, field='mean'):
    """``value`` may be ``{'mean': .., 'std': ..}`` or a bare number."""
    if isinstance(value, dict):
        value = value.get(field)
    elif field != 'mean':
        value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _first_run(bench, method):
    runs = [
        r for r in bench.get('runs') or []
        if isinstance(r, dict) and r.get('method') == method
    ]
    runs.sort(key=lambda r: (r.get('seed') is None, r.get('seed') or 0))
    return runs[0] if runs else {}


def _is_pretrained(bench, summary, run):
    """Whether the benchmark says the backbone started from weights."""
    for source in (summary, run, bench):
        if source.get('load_from') or source.get('pretrained'):
            return True
    return 'load_from=' in str(bench.get('command') or '')


def _metric(summary, label, field='mean'):
    """One figure of a method, scaled to the metafile's unit."""
    keys, scales = BENCH_METRICS[label]
    if not isinstance(scales, tuple):
        scales = (scales, ) * len(keys)
    for key, scale in zip(keys, scales):
        if key in summary:
            value = _stat(summary[key], field)
            return None if value is None else round(value * scale, 1)
    return None


def _seeds(summary):
    if isinstance(summary.get('n'), int):
        return summary['n']
    counts = [
        v.get('n') for v in summary.values()
        if isinstance(v, dict) and isinstance(v.get('n'), int)
    ]
    return max(counts) if counts else None


def _benchmark_result(bench, summary, source):
    metrics, std = {}, {}
    for label in BENCH_METRICS:
        mean = _metric(summary, label)
        if mean is not None:
            metrics[label] = mean
        dev = _metric(summary, label, 'std')
        if dev is not None and label not in NO_STD:
            std[label] = dev
    if not metrics:
        return None
    result = {'Task': TASK, 'Dataset': SYNTHETIC, 'Source': 'benchmark'}
    if _seeds(summary) is not None:
        result['Seeds'] = _seeds(summary)
    result['Metrics'] = metrics
    if std:
        result['Std'] = std
    result['Benchmark'] = {
        'File': source,
        'Commit': bench.get('git_commit'),
        'Date': bench.get('date')
    }
    return result


def _methods(bench, source):
    """``[(method name, summary)]``; ``methods`` is a mapping by name or a
    list of summaries that carry ``method``."""
    methods = bench.get('methods')
    if isinstance(methods, dict):
        return [(k, v) for k, v in methods.items() if isinstance(v, dict)]
    if isinstance(methods, list):
        return [(m.get('method'), m) for m in methods if isinstance(m, dict)]
    raise MetafileError(f'{source}: no "methods" mapping or list')


def _config(summary, run):
    """The method's config: ``config``, else the last of ``configs`` (the
    second stage of Finetune), else the first run's."""
    configs = summary.get('configs')
    if summary.get('config'):
        return summary['config']
    if isinstance(configs, list) and configs:
        return configs[-1]
    return run.get('config')


def _weights(run, stem=None, publish_dir=None, root=ROOT):
    """The published file name of the first seed's checkpoint, if any.

    With ``publish_dir``, a training checkpoint the run names is published
    there first (tools/model_converters/publish_model.py: meta and
    state_dict only, ``<config stem>-<sha256[:8]>.pth``).
    """
    checkpoint = str(run.get('checkpoint') or '')
    name = Path(checkpoint).name
    if PUBLISHED.match(name) or not (publish_dir and stem and checkpoint):
        return name if PUBLISHED.match(name) else None
    path = Path(checkpoint)
    path = path if path.is_absolute() else Path(root) / path
    if not path.is_file():
        print(f'{stem}: checkpoint {path} not found, not published',
              file=sys.stderr)
        return None
    sys.path.insert(0, str(ROOT / 'tools' / 'model_converters'))
    try:
        from publish_model import publish
    finally:
        sys.path.pop(0)
    out = publish(str(path), str(Path(publish_dir) / f'{stem}.pth'))
    return Path(out).name


def benchmark_entries(bench, source, publish_dir=None, root=ROOT):
    """``{config stem: update}`` from a benchmark json (already loaded)."""
    entries = {}
    for method, summary in _methods(bench, source):
        run = _first_run(bench, method)
        config = _config(summary, run)
        result = _benchmark_result(bench, summary, source)
        if not config or result is None:
            continue
        stem = Path(config).stem
        entries[stem] = dict(
            result=result,
            memory=_stat(summary.get('peak_mem_mib')),
            weights=_weights(run, stem, publish_dir, root),
            pretrained=_is_pretrained(bench, summary, run))
    return entries


def _has_paper_results(model):
    return any(r.get('Source') == 'paper' for r in model.get('Results', []))


def apply_entry(model, entry):
    """Write one method's benchmark numbers into its model entry."""
    meta = model['Metadata']
    if entry['memory'] is not None:
        meta[MEMORY_KEY] = int(round(entry['memory']))
    backbone = str(meta.get('Backbone', ''))
    if entry['pretrained'] and backbone == 'SmallVGG':
        meta['Backbone'] = 'SmallVGG (crop-pretrained)'
    kept = [
        r for r in model.get('Results') or [] if r.get('Source') != 'benchmark'
    ]
    model['Results'] = kept + [entry['result']]
    model['Weights'] = entry['weights']


def apply_benchmark(metas, entries):
    """Update the model entries; return the stems nothing matched."""
    unmatched = set(entries)
    for path, model in iter_models(metas):
        entry = entries.get(model['Name'])
        if entry is None:
            continue
        unmatched.discard(model['Name'])
        if _has_paper_results(model):
            print(
                f'skipped {model["Name"]}: it carries paper results',
                file=sys.stderr)
            continue
        apply_entry(model, entry)
    return sorted(unmatched)


# ----------------------------------------------------------- README table
def _cell(result, metric):
    value = result['Metrics'].get(metric)
    if value is None:
        return NONE
    if result.get('Source') == 'paper':
        return f'{value} (paper)'
    dev = (result.get('Std') or {}).get(metric)
    if dev is not None and result.get('Seeds', 1) > 1:
        return f'{value} \u00b1 {dev}'
    return f'{value}'


def _download(weights):
    if not weights:
        return NONE
    weights = str(weights)
    if weights.startswith(('http://', 'https://')):
        return f'[model]({weights})'
    return f'`{weights}`'


def table_row(model, result):
    meta = model['Metadata']
    config = model['Config']
    cells = [
        meta['Method'], meta['Backbone'],
        result.get('Proposals', meta['Proposals']), meta['Schedule'],
        _cell(result, 'base AP50'),
        _cell(result, 'novel AP50'),
        _cell(result, 'novel CorLoc'), f'[{model["Name"]}]({config})',
        _download(model.get('Weights'))
    ]
    return '| ' + ' | '.join(str(c) for c in cells) + ' |'


def render_table(metas):
    """The model-zoo markdown: one table per dataset, ours first."""
    groups = {}
    for _, model in iter_models(metas):
        for result in model.get('Results') or []:
            key = (result['Source'] != 'benchmark', result['Dataset'])
            groups.setdefault(key, []).append(table_row(model, result))
    lines = []
    for key in sorted(groups, key=lambda k: k[0]):
        source = 'paper' if key[0] else 'measured here'
        lines += [f'**{key[1]}** ({source})', '']
        lines.append('| ' + ' | '.join(COLUMNS) + ' |')
        lines.append('| ' + ' | '.join('---' for _ in COLUMNS) + ' |')
        lines += groups[key] + ['']
    return '\n'.join(lines)


def update_readme(path, table):
    """Replace the text between the markers; return whether it changed."""
    text = Path(path).read_text(encoding='utf-8')
    start, end = text.find(MARK_START), text.find(MARK_END)
    if start < 0 or end < start:
        raise MetafileError(f'{path}: no {MARK_START} ... {MARK_END}')
    head = text[:start + len(MARK_START)]
    new = head + '\n' + table + '\n' + text[end:]
    return _write_if_changed(path, new)


# -------------------------------------------------------------- commands
def _relative(path, root):
    path = Path(path).resolve()
    try:
        return path.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def read_benchmark(path):
    try:
        with open(path, encoding='utf-8') as f:
            bench = json.load(f)
    except (OSError, ValueError) as err:
        raise MetafileError(f'{path}: cannot read: {err}') from err
    if not isinstance(bench, dict):
        raise MetafileError(f'{path}: not a json object')
    return bench


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
        if _write_if_changed(path, format_metafile(header, data))
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
