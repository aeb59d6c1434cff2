"""The package's floors: structures/ imports no other subpackage, models/
and datasets/ do not import each other; no file in mmdet_csod/, tools/,
configs/ or tests/ is over 450 lines. Read from the source (every import,
also inside functions), nothing is imported."""
import ast
import os.path as osp
from pathlib import Path

import pytest
from conftest import REPO_ROOT

PACKAGE = Path(REPO_ROOT) / 'mmdet_csod'
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def _imports(path: Path):
    """Absolute names of every module ``path`` imports (``from a import b``
    gives ``a.b`` as well, since ``b`` may be a submodule)."""
    name = _module_name(path)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - (node.level - 1)]
                module = '.'.join(base + ([node.module]
                                          if node.module else []))
            else:
                module = node.module
            found.add(module)
            found.update(f'{module}.{a.name}' for a in node.names)
    return found


def _subpackage_imports(subpackage: str):
    """``{file: {mmdet_csod subpackages it imports}}`` for one subpackage."""
    result = {}
    for path in sorted((PACKAGE / subpackage).rglob('*.py')):
        used = set()
        for module in _imports(path):
            parts = module.split('.')
            if parts[0] == 'mmdet_csod' and len(parts) > 1:
                used.add(parts[1])
        result[path.relative_to(REPO_ROOT).as_posix()] = used
    return result


def _offenders(subpackage, forbidden):
    return {
        f: sorted(used & forbidden)
        for f, used in _subpackage_imports(subpackage).items()
        if used & forbidden
    }


def test_structures_is_the_ground_floor():
    subpackages = {
        p.name
        for p in PACKAGE.iterdir()
        if p.is_dir() and (p / '__init__.py').is_file()
    }
    assert 'structures' in subpackages
    assert _offenders('structures', subpackages - {'structures'}) == {}


@pytest.mark.parametrize('subpackage, other', [('models', 'datasets'),
                                               ('datasets', 'models')])
def test_models_and_datasets_do_not_import_each_other(subpackage, other):
    assert _offenders(subpackage, {other}) == {}


def test_no_long_files():
    long = {}
    for folder in ('mmdet_csod', 'tools', 'configs', 'tests'):
        for path in sorted((Path(REPO_ROOT) / folder).rglob('*.py')):
            n = len(path.read_text(encoding='utf-8').splitlines())
            if n > MAX_LINES:
                long[osp.relpath(path, REPO_ROOT)] = n
    assert long == {}
