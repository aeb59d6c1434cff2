"""The class split: all classes, base classes (boxes) and novel classes
(image-level labels only)."""


def complete_class_split(meta: dict) -> dict:
    """``classes``, ``base_classes`` and ``novel_classes`` of a split.

    Either split may be left out: it is then the other classes (both left
    out: every class is base). Errors name classes that are unknown, in
    both splits, or in neither.

    Returns:
        dict: a copy of ``meta`` with the three keys as tuples.
    """
    meta = dict(meta)
    classes = tuple(meta['classes'])
    base = meta.get('base_classes')
    novel = meta.get('novel_classes')
    if base is None and novel is None:
        base, novel = classes, ()
    elif base is None:
        base = tuple(c for c in classes if c not in set(novel))
    elif novel is None:
        novel = tuple(c for c in classes if c not in set(base))
    base, novel = tuple(base), tuple(novel)
    unknown = [c for c in base + novel if c not in classes]
    if unknown:
        raise ValueError(f'metainfo: base/novel classes {unknown} are not '
                         f'in classes {classes}')
    if set(base) & set(novel):
        raise ValueError('metainfo: classes both base and novel: '
                         f'{sorted(set(base) & set(novel))}')
    if set(base) | set(novel) != set(classes):
        raise ValueError('metainfo: classes neither base nor novel: '
                         f'{sorted(set(classes) - set(base) - set(novel))}')
    meta.update(classes=classes, base_classes=base, novel_classes=novel)
    return meta
