"""The README's model-zoo table, rendered from the metafiles.

Part of tools/analysis_tools/model_zoo.py (the command line).
"""
from pathlib import Path

from model_zoo_metafiles import MetafileError, write_if_changed, iter_models

MARK_START = '<!-- model-zoo:start -->'
MARK_END = '<!-- model-zoo:end -->'
NONE = '\u2014'
COLUMNS = ('Method', 'Backbone', 'Proposals', 'Schedule', 'base AP50',
           'novel AP50', 'CorLoc', 'Config', 'Download')


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
    return write_if_changed(path, new)
