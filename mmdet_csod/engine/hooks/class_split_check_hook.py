"""One class split per run: the model's and every dataset's must agree.

A config declares the split once, in its ``metainfo``; the DRN's
``model.class_split={{_base_.metainfo}}`` copies it when the config is
parsed. A later ``--cfg-options`` edit of one dataset's metainfo therefore
reaches neither the model nor the other datasets, and the run would go on
with two splits: a class moved to novel in the training set only gets
neither boxes nor pseudo boxes and is still scored as novel; a class moved
to base hands the model boxes of a class it takes for novel.

:class:`ClassSplitCheckHook` compares, before the run starts (``before_run``:
before the weights are initialised or loaded, before any iteration), the
model's split (``model.class_split``) with the metainfo of every dataset the
run has built (train, val and test loops; members of dataset wrappers one
by one) and raises :class:`ClassSplitMismatchError` naming both places and
the classes that differ. A model without a split (WSOD, Fast R-CNN) is
compared through the datasets: each with the first one.
"""
from typing import Iterator, List, Optional, Sequence, Tuple

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import BaseLoop

from ...structures import complete_class_split

LOOPS = (('_train_loop', 'train_dataloader'), ('_val_loop', 'val_dataloader'),
         ('_test_loop', 'test_dataloader'))
SPLIT_KEYS = ('base_classes', 'novel_classes')
_ADVICE = (
    'The split is declared once, in the config\'s metainfo; '
    'model.class_split={{_base_.metainfo}} copies it when the config is '
    'parsed, so a --cfg-options edit of one dataset\'s metainfo reaches '
    'neither the model nor the other datasets. Edit the config\'s metainfo, '
    'or make the same edit to model.class_split and to every dataloader\'s '
    'dataset.metainfo.')


class ClassSplitMismatchError(ValueError):
    """The model and a dataset (or two datasets) split classes differently.
    """


def _as_split(meta) -> Tuple[tuple, Optional[dict]]:
    """``(classes, roles)`` with roles ``{class: 'base' | 'novel'}``, or
    None when ``meta`` declares no base/novel split at all."""
    classes = tuple(meta['classes'])
    if not any(meta.get(k) is not None for k in SPLIT_KEYS):
        return classes, None
    split = complete_class_split(
        dict(
            classes=classes,
            base_classes=meta.get('base_classes'),
            novel_classes=meta.get('novel_classes')))
    roles = {c: 'base' for c in split['base_classes']}
    roles.update({c: 'novel' for c in split['novel_classes']})
    return classes, roles


def split_differences(meta_a, name_a: str, meta_b, name_b: str) -> List[str]:
    """How two metainfo dicts (``classes``, ``base_classes``,
    ``novel_classes``) differ, one line per point; empty when they agree.

    ``classes`` is compared in order (it is the label order); the base and
    novel classes as sets, over the classes both declare, and only where
    both declare a split.
    """
    classes_a, roles_a = _as_split(meta_a)
    classes_b, roles_b = _as_split(meta_b)
    lines = []
    if classes_a != classes_b:
        only_a = [c for c in classes_a if c not in classes_b]
        only_b = [c for c in classes_b if c not in classes_a]
        if not only_a and not only_b and len(classes_a) == len(classes_b):
            moved = [(i, a, b)
                     for i, (a, b) in enumerate(zip(classes_a, classes_b))
                     if a != b]
            shown = ', '.join(f'label {i} is {a!r} in {name_a} but {b!r} '
                              f'in {name_b}' for i, a, b in moved[:4])
            lines.append(f'classes: the same classes in another order '
                         f'(the label order): {shown}')
        else:
            if only_a:
                lines.append(f'classes: {only_a} only in {name_a}')
            if only_b:
                lines.append(f'classes: {only_b} only in {name_b}')
            if not only_a and not only_b:
                lines.append(f'classes: {len(classes_a)} in {name_a}, '
                             f'{len(classes_b)} in {name_b}')
    if roles_a is not None and roles_b is not None:
        for c in classes_a:
            ra, rb = roles_a.get(c), roles_b.get(c)
            if ra and rb and ra != rb:
                lines.append(f'{c!r} is {ra} in {name_a} but {rb} in '
                             f'{name_b}')
    return lines


def check_class_splits(entries: Sequence[Tuple[str, dict]]) -> None:
    """Raise :class:`ClassSplitMismatchError` unless every ``(name,
    metainfo)`` of ``entries`` has the split of the first one."""
    if len(entries) < 2:
        return
    ref_name, ref = entries[0]
    problems = []
    for name, meta in entries[1:]:
        lines = split_differences(meta, name, ref, ref_name)
        if lines:
            problems.append((name, lines))
    if not problems:
        return
    parts = []
    for name, lines in problems:
        parts.append(f'{name} and {ref_name} split the classes differently:' +
                     ''.join(f'\n  - {line}' for line in lines))
    raise ClassSplitMismatchError('class split mismatch:\n' +
                                  '\n'.join(parts) + '\n' + _ADVICE)


def iter_dataset_metainfo(dataset, path: str) -> Iterator[Tuple[str, dict]]:
    """``(path, metainfo)`` of a dataset, or of each member of a dataset
    wrapper (``ConcatDataset.datasets``, ``RepeatDataset.dataset``, ...)."""
    members = getattr(dataset, 'datasets', None)
    if isinstance(members, (list, tuple)):
        for i, member in enumerate(members):
            yield from iter_dataset_metainfo(member, f'{path}.datasets[{i}]')
        return
    inner = getattr(dataset, 'dataset', None)
    if inner is not None and hasattr(inner, 'metainfo'):
        yield from iter_dataset_metainfo(inner, f'{path}.dataset')
        return
    meta = getattr(dataset, 'metainfo', None)
    if meta is not None and meta.get('classes') is not None:
        yield f'{path}.metainfo', meta


def _unwrap(model):
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def model_class_split(runner) -> Optional[dict]:
    """The split the model was built with: its ``class_split`` attribute,
    else ``model.class_split`` of the config (inside a TTA wrapper's
    ``module``); None for models without one."""
    split = getattr(_unwrap(runner.model), 'class_split', None)
    if split:
        return split
    cfg = runner.cfg.get('model') if runner.cfg is not None else None
    while isinstance(cfg, dict):
        if cfg.get('class_split'):
            return cfg['class_split']
        cfg = cfg.get('module')
    return None


def run_class_split_entries(runner) -> List[Tuple[str, dict]]:
    """``(name, metainfo)`` of the model's split and of every dataset the
    runner has built so far, the model first."""
    entries = []
    split = model_class_split(runner)
    if split is not None:
        entries.append(('model.class_split', split))
    for attr, loader_name in LOOPS:
        loop = getattr(runner, attr, None)
        if not isinstance(loop, BaseLoop):
            continue
        dataset = getattr(loop.dataloader, 'dataset', None)
        if dataset is not None:
            entries.extend(
                iter_dataset_metainfo(dataset, f'{loader_name}.dataset'))
    return entries


@HOOKS.register_module()
class ClassSplitCheckHook(Hook):
    """Fail before the run starts when the model and a dataset of the run
    split the classes differently (see the module's docstring).

    The project's runtime (``configs/_base_/default_runtime.py``) registers
    it among ``default_hooks`` (``class_split_check``), which configs merge
    into rather than replace, as they do ``custom_hooks``.
    """
    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        # train(), val() and test() build their loops (and so the datasets)
        # before calling before_run
        check_class_splits(run_class_split_entries(runner))

    def before_train(self, runner) -> None:
        check_class_splits(run_class_split_entries(runner))

    def before_val(self, runner) -> None:
        check_class_splits(run_class_split_entries(runner))

    def before_test(self, runner) -> None:
        check_class_splits(run_class_split_entries(runner))
