"""Check the data a config reads, before training on it.

    python tools/misc/check_data.py CONFIG [--split train|val|test]
        [--cfg-options KEY=VALUE ...] [--max-offenders N] [--jobs N]
        [--max-outside-share F]

Builds the split's dataset as the tools do (``--cfg-options`` applied;
every member of a dataset wrapper), then checks, against the annotation
file itself:

- ``dataset``: that it loads (json, image files, proposal entries);
- ``class split``: the metainfo's classes / base / novel, that the json has
  every class, and ``model.class_split`` and the other dataloaders' metainfo
  against this dataset's;
- ``images``: every image is read and decoded (a truncated JPEG is an
  error) and has the json's width and height;
- ``proposals``: every image has an entry; every box is counted when not
  finite, degenerate (narrower or lower than the dataset's
  ``proposal_min_size``) or outside its image (by more than 1 px); an image
  with more than half its boxes outside is named; more than
  ``--max-outside-share`` of all boxes outside is an error (proposals made
  for other images, or wrong sizes in the json), an image left without a
  usable proposal too in test mode (training skips it);
- ``annotations``: fields, ids, category ids, boxes (non-numeric or not
  finite: errors; w or h < 1, outside or beyond the image, a category
  outside the configured classes: warnings, the dataset skips or keeps
  them as it says), and how many novel boxes the split drops.

Prints a table (check, checked, errors, warnings, the first offenders by
file, image id and annotation id) and exits 1 when there is an error.
"""
import argparse
import copy
import json
import os.path as osp
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
for _path in (REPO_ROOT, osp.join(REPO_ROOT, 'tools')):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import numpy as np  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

CHECKS = ('dataset', 'class split', 'images', 'proposals', 'annotations')
BOX_ERRORS = ('non-numeric box', 'non-finite box (NaN or inf)')
_CHUNK = 1 << 20  # proposal rows per step of the pass over the file


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--split',
        default='train',
        choices=['train', 'val', 'test'],
        help='which dataloader\'s dataset (default: train)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value')
    parser.add_argument(
        '--max-offenders',
        type=int,
        default=5,
        help='offenders shown per check (default: 5)')
    parser.add_argument(
        '--max-outside-share',
        type=float,
        default=0.2,
        help='share of proposal boxes outside their image '
        'above which the file is an error (default: 0.2)')
    parser.add_argument(
        '--jobs',
        type=int,
        default=4,
        help='threads decoding images (default: 4)')
    return parser.parse_args(argv)


class Check:
    """Counts and the first offenders of one check."""

    def __init__(self, name: str, max_offenders: int) -> None:
        self.name, self.max = name, max_offenders
        self.checked = 0
        self.errors, self.warnings = [], []
        self.num_errors = self.num_warnings = 0

    def error(self, msg: str) -> None:
        self.num_errors += 1
        if len(self.errors) < self.max:
            self.errors.append(msg)

    def warn(self, msg: str) -> None:
        self.num_warnings += 1
        if len(self.warnings) < self.max:
            self.warnings.append(msg)


def _who(path, img_id, ann_id=None) -> str:
    ann = '' if ann_id is None else f' annotation {ann_id}'
    return f'{path} (image {img_id}){ann}'


def _leaves(ds_cfg, name):
    """``(name, config)`` of every dataset under dataset wrappers."""
    if isinstance(ds_cfg.get('datasets'), (list, tuple)):
        for i, member in enumerate(ds_cfg['datasets']):
            yield from _leaves(member, f'{name}.datasets[{i}]')
    elif isinstance(ds_cfg.get('dataset'), dict):
        yield from _leaves(ds_cfg['dataset'], f'{name}.dataset')
    else:
        yield name, ds_cfg


def build_dataset(ds_cfg, check: Check):
    """The dataset, paths resolved, loaded (errors go to ``check``)."""
    from mmdet.registry import DATASETS
    ds_cfg = copy.deepcopy(ds_cfg)
    ds_cfg.update(lazy_init=True, pipeline=[])  # the pipeline is not run
    check.checked = 1
    try:
        ds = DATASETS.build(ds_cfg)
    except Exception as e:  # whatever the dataset says is wrong
        check.error(f'{type(e).__name__}: {e}')
        return None
    try:
        ds.full_init()
    except Exception as e:
        check.error(f'{type(e).__name__}: {e}')
    return ds


def check_class_split(cfg, meta, ds_name, data, check: Check, split):
    from mmdet_csod.engine.hooks import split_differences
    from mmdet_csod.structures import complete_class_split
    try:
        meta = complete_class_split(meta)
    except ValueError as e:
        check.error(f'{ds_name}.metainfo: {e}')
        return
    check.checked += 1
    names = [c.get('name') for c in (data or {}).get('categories', [])]
    if data is not None:
        missing = [c for c in meta['classes'] if c not in names]
        if missing:
            check.error(f'classes {missing} of {ds_name}.metainfo are not '
                        'categories of the annotation file')
        extra = [n for n in names if n not in meta['classes']]
        if extra:
            check.warn(f'categories {extra} of the annotation file are not '
                       f'in {ds_name}.metainfo (their boxes are skipped)')
    others = []
    model_split = (cfg.get('model') or {}).get('class_split')
    if model_split:
        others.append(('model.class_split', model_split))
    for other in ('train', 'val', 'test'):
        loader = cfg.get(f'{other}_dataloader')
        if other == split or not loader:
            continue
        for name, leaf in _leaves(loader['dataset'],
                                  f'{other}_dataloader.dataset'):
            if leaf.get('metainfo') and leaf['metainfo'].get('classes'):
                others.append((f'{name}.metainfo', leaf['metainfo']))
    for name, other_meta in others:
        check.checked += 1
        for line in split_differences(other_meta, name, meta,
                                      f'{ds_name}.metainfo'):
            check.error(line)


def check_images(images, img_dir, backend_args, check: Check, jobs: int):
    from mmdet_csod.datasets.transforms import BadImageError, read_image

    def one(img):
        path = osp.join(img_dir, img['file_name'])
        try:
            read_image(
                path, backend_args, expected_hw=(img['height'], img['width']))
        except BadImageError as e:
            return f'{_who(path, img["id"])}: {e.reason}'
        return None

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        for problem in pool.map(one, images):
            check.checked += 1
            if problem:
                check.error(problem)


def check_proposals(path, images, img_dir, min_size, test_mode, max_outside,
                    check: Check, notes):
    from mmdet_csod.datasets import load_proposal_file, proposal_key
    try:
        pfile = load_proposal_file(path)
    except Exception as e:
        check.error(f'{type(e).__name__}: {e}')
        return
    index = pfile.index
    n = len(pfile.offsets) - 1
    hw = np.full((n, 2), np.nan)
    owner = {}
    for img in images:
        img_path = osp.join(img_dir, img['file_name'])
        key = proposal_key(img_path)
        if key not in index:
            check.error(f'{_who(img_path, img["id"])}: no entry in {path} '
                        f'(key {key!r})')
            continue
        hw[index[key]] = img['height'], img['width']
        owner[index[key]] = (img_path, img['id'])
    counts = {
        k: np.zeros(n, np.int64)
        for k in ('non_finite', 'degenerate', 'outside', 'usable')
    }
    offsets, total = pfile.offsets, pfile.num_boxes
    bboxes, scores = pfile.bboxes, pfile.scores
    for start in range(0, total, _CHUNK):
        end = min(start + _CHUNK, total)
        b = np.asarray(bboxes[start:end], np.float64)
        s = np.asarray(scores[start:end], np.float64)
        img = np.searchsorted(offsets, np.arange(start, end), 'right') - 1
        h, w = hw[img, 0], hw[img, 1]
        mine = ~np.isnan(h)
        finite = np.isfinite(b).all(1) & np.isfinite(s)
        bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        with np.errstate(invalid='ignore'):
            degenerate = finite & ((bw < min_size) | (bh < min_size))
            outside = finite & ((b[:, 0] < -1) | (b[:, 1] < -1) |
                                (b[:, 2] > w + 1) | (b[:, 3] > h + 1))
            cw = np.minimum(b[:, 2], w) - np.maximum(b[:, 0], 0)
            ch = np.minimum(b[:, 3], h) - np.maximum(b[:, 1], 0)
            usable = finite & (cw >= min_size) & (ch >= min_size)
        for key, flag in (('non_finite', ~finite), ('degenerate', degenerate),
                          ('outside', outside), ('usable', usable)):
            counts[key] += np.bincount(img[flag & mine], minlength=n)
    sizes = np.diff(offsets)
    for i in sorted(owner):
        img_path, img_id = owner[i]
        check.checked += int(sizes[i])
        who = f'{_who(img_path, img_id)}, rows {offsets[i]}:{offsets[i+1]}'
        for key, what in (('non_finite', 'not finite'),
                          ('degenerate', f'narrower or lower than '
                           f'{min_size:g} px')):
            if counts[key][i]:
                check.warn(f'{who}: {counts[key][i]} of {sizes[i]} boxes '
                           f'{what}')
        if counts['outside'][i] * 2 > sizes[i]:
            check.warn(f'{who}: {counts["outside"][i]} of {sizes[i]} boxes '
                       'outside the image')
        if counts['usable'][i] == 0:
            msg = f'{who}: no usable proposal'
            if test_mode:
                check.error(msg)
            else:
                check.warn(msg + ' (training skips the image)')
    mine_rows = int(sum(sizes[i] for i in owner))
    outside = int(counts['outside'].sum())
    if mine_rows and outside / mine_rows > max_outside:
        check.error(
            f'{path}: {outside} of {mine_rows} proposal boxes '
            f'({100 * outside / mine_rows:.0f} %) fall outside their images '
            f'(more than --max-outside-share={max_outside:g}): proposals '
            'made for other images, or wrong image sizes in the json?')
    notes.append(f'proposals: {mine_rows} boxes of {len(owner)} images; '
                 f'{int(counts["non_finite"].sum())} not finite, '
                 f'{int(counts["degenerate"].sum())} degenerate, {outside} '
                 'outside the image')


def check_annotations(data, meta, img_dir, supervision, test_mode,
                      check: Check, notes):
    from mmdet_csod.datasets.csod_coco import annotation_box_problem
    images = {img['id']: img for img in data['images']}
    cats = {c.get('id'): c.get('name') for c in data['categories']}
    novel = set(meta.get('novel_classes') or ())
    dropped, crowd, seen = Counter(), 0, set()
    for ann in data['annotations']:
        check.checked += 1
        img = images.get(ann.get('image_id'))
        path = osp.join(img_dir, img['file_name']) if img else '?'
        who = _who(path, ann.get('image_id'), ann.get('id'))
        missing = [
            k for k in ('id', 'image_id', 'category_id', 'bbox')
            if k not in ann
        ]
        if missing:
            check.error(f'{who}: no field(s) {missing}')
            continue
        if ann['id'] in seen:
            check.error(f'{who}: annotation id {ann["id"]} is not unique')
        seen.add(ann['id'])
        if img is None:
            check.error(f'{who}: unknown image id {ann["image_id"]}')
            continue
        if ann['category_id'] not in cats:
            check.error(f'{who}: unknown category id {ann["category_id"]} '
                        f'(categories: {sorted(cats)})')
            continue
        bbox = ann['bbox']
        if not (isinstance(bbox, list) and len(bbox) == 4):
            check.error(f'{who}: bbox must be [x, y, w, h], got {bbox!r}')
            continue
        problem = annotation_box_problem(bbox, img['height'], img['width'])
        if problem in BOX_ERRORS:
            check.error(f'{who}: {problem}: {bbox}')
            continue
        name = cats[ann['category_id']]
        if name not in meta['classes']:
            check.warn(f'{who}: category {name!r} not in the configured '
                       'classes (skipped)')
            continue
        if problem is not None:
            check.warn(f'{who}: {problem}: {bbox} (skipped)')
            continue
        x, y, w, h = bbox
        if x < -1 or y < -1 or x + w > img['width'] + 1 or \
                y + h > img['height'] + 1:
            check.warn(f'{who}: box {bbox} extends beyond its '
                       f'{img["width"]}x{img["height"]} image')
        if ann.get('iscrowd') or ann.get('ignore'):
            crowd += 1
        elif not test_mode and (supervision == 'weak'
                                or supervision == 'cross' and name in novel):
            dropped[name] += 1
    if crowd:
        notes.append(f'annotations: {crowd} crowd/ignored boxes (kept as '
                     'ignored instances)')
    if dropped:
        notes.append(
            f'annotations: {sum(dropped.values())} boxes dropped by the '
            f'split (supervision={supervision!r}), kept as image-level '
            f'labels: ' + ', '.join(f'{k} {v}'
                                    for k, v in sorted(dropped.items())))


def read_json(ds, check: Check):
    """The dataset's annotation file, or None (an error in ``check``)."""
    from mmengine.fileio import get_local_path
    try:
        with get_local_path(ds.ann_file, backend_args=ds.backend_args) as p:
            with open(p) as f:
                data = json.load(f)
        for key in ('images', 'annotations', 'categories'):
            if not isinstance(data.get(key), list):
                raise ValueError(f'field {key!r} missing or not a list')
    except Exception as e:  # unreadable, not json, not a COCO json
        check.error(f'{ds.ann_file}: {type(e).__name__}: {e}')
        return None
    return data


def check_leaf(cfg, ds_name, ds_cfg, split, args):
    checks = {c: Check(c, args.max_offenders) for c in CHECKS}
    notes = []
    ds = build_dataset(ds_cfg, checks['dataset'])
    meta = dict(ds_cfg.get('metainfo') or {} if ds is None else ds.metainfo)
    data = None if ds is None else read_json(ds, checks['annotations'])
    check_class_split(cfg, meta, ds_name, data, checks['class split'], split)
    if data is None:
        return checks, notes
    img_dir = ds.data_prefix.get('img', '')
    images = [
        i for i in data['images'] if isinstance(i, dict) and all(
            k in i for k in ('id', 'file_name', 'height', 'width'))
    ]
    if len(images) < len(data['images']):
        checks['images'].error(
            f'{ds.ann_file}: {len(data["images"]) - len(images)} image '
            'entries lack id, file_name, height or width')
    check_images(images, img_dir, ds.backend_args, checks['images'], args.jobs)
    prop = ds_cfg.get('proposal_file')  # as the dataset resolves it
    if prop:
        prop = osp.join(ds.data_root or '', prop)
        check_proposals(prop, images, img_dir,
                        getattr(ds, 'proposal_min_size', 1.0), ds.test_mode,
                        args.max_outside_share, checks['proposals'], notes)
    check_annotations(data, meta, img_dir, getattr(ds, 'supervision', 'full'),
                      ds.test_mode, checks['annotations'], notes)
    notes.append(f'images: {len(images)} in {ds.ann_file}, files under '
                 f'{img_dir}')
    return checks, notes


def format_table(checks) -> str:
    head = ('check', 'checked', 'errors', 'warnings', 'first offenders')
    rows = []
    for c in checks.values():
        offenders = ([f'ERROR {m}' for m in c.errors] +
                     [f'warn  {m}' for m in c.warnings])[:max(c.max, 1)]
        rows.append((c.name, str(c.checked), str(c.num_errors),
                     str(c.num_warnings), offenders))
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(4)]

    def line(cells, offender):
        left = '  '.join(
            cells[i].ljust(widths[i]) if i == 0 else cells[i].rjust(widths[i])
            for i in range(4))
        return f'{left}  {offender}'.rstrip()

    out = [
        line(head, head[4]),
        line(['-' * w for w in widths], '-' * len(head[4]))
    ]
    for name, checked, errors, warnings, offenders in rows:
        out.append(
            line((name, checked, errors, warnings),
                 offenders[0] if offenders else ''))
        out += [line(('', '', '', ''), o) for o in offenders[1:]]
    return '\n'.join(out)


def main(argv=None) -> int:
    args = parse_args(argv)
    from _bootstrap import load_config
    import mmdet_csod  # noqa: F401  registers the project's modules
    from mmengine.registry import init_default_scope
    cfg = load_config(args.config, args.cfg_options, work_dir='.')
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    loader = cfg.get(f'{args.split}_dataloader')
    if not loader or not loader.get('dataset'):
        print(
            f'error: {args.config} has no {args.split}_dataloader.dataset',
            file=sys.stderr)
        return 1
    failed = False
    for ds_name, ds_cfg in _leaves(loader['dataset'],
                                   f'{args.split}_dataloader.dataset'):
        checks, notes = check_leaf(cfg, ds_name, ds_cfg, args.split, args)
        errors = sum(c.num_errors for c in checks.values())
        warnings = sum(c.num_warnings for c in checks.values())
        failed |= errors > 0
        print(f'\n{args.config}: {ds_name} ({ds_cfg.get("type")})\n')
        print(format_table(checks))
        if notes:
            print('\n' + '\n'.join(f'- {n}' for n in notes))
        print(f'\n{ds_name}: {errors} error(s), {warnings} warning(s): '
              f'{"FAILED" if errors else "OK"}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
