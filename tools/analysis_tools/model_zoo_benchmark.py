"""The Table-1 benchmark json as model-zoo results: one ``benchmark``
Results entry (and the published weights) per benchmarked config.

Part of tools/analysis_tools/model_zoo.py (the command line).
"""
import json
import re
import sys
from pathlib import Path

from model_zoo_metafiles import ROOT, MetafileError, iter_models

SYNTHETIC = 'synthetic CSOD (generated)'
TASK = 'Object Detection'
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


def read_benchmark(path):
    try:
        with open(path, encoding='utf-8') as f:
            bench = json.load(f)
    except (OSError, ValueError) as err:
        raise MetafileError(f'{path}: cannot read: {err}') from err
    if not isinstance(bench, dict):
        raise MetafileError(f'{path}: not a json object')
    return bench


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


def _weights(run, stem=None, publish_dir=None, root=ROOT, config=None):
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
    # the project's config as it is now: its test pipeline computes
    # proposals on new images (proposal_cfg), which the config a run was
    # trained with may not have
    config = Path(root) / str(config or run.get('config') or '')
    out = publish(
        str(path), str(Path(publish_dir) / f'{stem}.pth'),
        str(config) if config.is_file() else None)
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
            weights=_weights(run, stem, publish_dir, root, config),
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
