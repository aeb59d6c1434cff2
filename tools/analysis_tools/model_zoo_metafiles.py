"""Model-zoo metafiles: reading and writing them (canonical YAML), finding
them beside the configs, and checking them.

Part of tools/analysis_tools/model_zoo.py (the command line).
"""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIRS = ('configs/csod', 'configs/wsod', 'configs/fast_rcnn')
MODEL_INDEX = 'model-index.yml'

COLLECTION_KEYS = ('Name', 'Metadata', 'Paper', 'README', 'Code')
MODEL_KEYS = ('Name', 'In Collection', 'Config', 'Metadata', 'Results',
              'Weights')
REQUIRED_MODEL_KEYS = ('Name', 'In Collection', 'Config', 'Metadata',
                       'Weights')
TABLE_METADATA = ('Method', 'Backbone', 'Proposals', 'Schedule')
RESULT_KEYS = ('Task', 'Dataset', 'Source', 'Metrics')
SOURCES = ('paper', 'benchmark')


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


def write_if_changed(path, text):
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


def _check_model_index(root, metas):
    """mim's ``model-index.yml`` at the root imports exactly the
    metafiles."""
    index = Path(root) / MODEL_INDEX
    if not index.is_file():
        return [f'{index}: missing (mim\'s model index, an Import list of '
                'every metafile.yml)']
    try:
        data = yaml.safe_load(index.read_text())
    except yaml.YAMLError as err:
        return [f'{index}: not YAML: {err}']
    imports = data.get('Import') if isinstance(data, dict) else None
    if not isinstance(imports, list):
        return [f'{index}: no Import list']
    listed = [str(p) for p in imports]
    found = [p.relative_to(root).as_posix() for p in metas]
    problems = [
        f'{index}: imports {p}, which does not exist' for p in listed
        if not (Path(root) / p).is_file()
    ]
    problems += [
        f'{index}: does not import {p}' for p in found if p not in listed
    ]
    problems += [
        f'{index}: imports {p} twice' for p in sorted(set(listed))
        if listed.count(p) > 1
    ]
    return problems


def check(root=ROOT):
    """Return the list of problems of the metafiles under ``root`` and of
    the model index."""
    root = Path(root)
    try:
        metas = load_all(root)
    except MetafileError as err:
        return [str(err)]
    if not metas:
        return [f'{root}: no metafile.yml under {", ".join(CONFIG_DIRS)}']
    return (_check_structure(root, metas) + _check_coverage(root, metas) +
            _check_model_index(root, metas))
