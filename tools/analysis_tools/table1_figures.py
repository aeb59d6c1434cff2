"""Reading the figures of one Table-1 run (tools/analysis_tools/
benchmark_table1.py) from what its tools wrote: the metrics files of
tools/test.py (mAP and AP50 per class on val, CorLoc on training images)
and the config a tool resolved (its class split). No process is run and
neither the project nor torch is imported here (mmengine's Config only)."""
import hashlib
import json
import math
import os
import os.path as osp
import re
import threading

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_config_lock = threading.Lock()

# figure -> (metrics file, metric key, scale); mAP and CorLoc come as
# fractions and are reported in percent
METRICS = {
    'map50': ('val', 'pascal_voc/mAP', 100),
    'base_map50': ('val', 'pascal_voc/base_mAP', 100),
    'novel_map50': ('val', 'pascal_voc/novel_mAP', 100),
    'corloc_base': ('corloc', 'corloc/corloc_base', 100),
    'corloc_novel': ('corloc', 'corloc/corloc_novel', 100),
}
# SplitVOCMetric's per-class AP at IoU 0.5: 'pascal_voc/AP50_<class>'
PER_CLASS_KEY = re.compile(r'(?:^|/)AP50_(.+)$')


def resolved_config(folder, config):
    """The config as a tool run in ``folder`` resolved it (mmengine's
    Runner dumps it there under the config's file name, --cfg-options
    applied), else the repository's ``config``."""
    dumped = osp.join(folder, osp.basename(config))
    return dumped if osp.isfile(dumped) else osp.join(REPO_ROOT, config)


def load_config(path):
    """mmengine Config of ``path``, None when it cannot be read."""
    try:
        from mmengine.config import Config
        with _config_lock:
            return Config.fromfile(path, import_custom_modules=False)
    except Exception as e:  # a note, not a failure of the run
        print(f'note: cannot read the config {path}: {e}', flush=True)
        return None


def _metainfo(cfg):
    """The dataset metainfo of a resolved config (val, test or train
    dataset, through dataset wrappers; else the model's class_split)."""
    for loader in ('val_dataloader', 'test_dataloader', 'train_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset')
        while isinstance(dataset, dict):
            if dataset.get('metainfo'):
                return dataset['metainfo']
            dataset = dataset.get('dataset')
    return (cfg.get('model') or {}).get('class_split') or cfg.get('metainfo')


def class_split(cfg, classes):
    """(base, novel) class names as SplitVOCMetric splits them: the
    metainfo's base_classes (all classes when absent) and novel_classes
    (none when absent)."""
    meta = (_metainfo(cfg) if cfg is not None else None) or {}
    classes = list(meta.get('classes') or classes)
    return (list(meta.get('base_classes', classes)),
            list(meta.get('novel_classes', ())))


def per_class_ap(metrics, cfg):
    """(base, novel) dicts class -> AP50 in percent (None where NaN) from a
    val metrics dict, in the split's class order."""
    ap = {}
    for key, value in metrics.items():
        match = PER_CLASS_KEY.search(key)
        if match and isinstance(value, (int, float)):
            ap[match.group(1)] = (None if math.isnan(value) else value * 100)
    base, novel = class_split(cfg, list(ap))
    return ({c: ap[c]
             for c in base if c in ap}, {c: ap[c]
                                         for c in novel if c in ap})


def figures_of(metrics, cfg):
    """The figures of METRICS and the per-class AP50 of a run from its
    metrics files' contents ({'val': .., 'corloc': ..})."""
    figures = {}
    for figure, (name, key, scale) in METRICS.items():
        value = metrics.get(name, {}).get(key)
        missing = value is None or math.isnan(value)  # no such class
        figures[figure] = None if missing else value * scale
    base, novel = per_class_ap(metrics.get('val', {}), cfg)
    return dict(
        figures, base_ap50_per_class=base, novel_ap50_per_class=novel)


def run_figures(work_dir, config):
    """``figures_of`` a run in ``work_dir`` from the metrics files its two
    tools/test.py steps wrote there (``val_metrics.json``,
    ``corloc_metrics.json``), the class split from the val test's resolved
    config (``config``: the run's last config, from the repository root)."""
    metrics = {}
    for name in ('val', 'corloc'):
        with open(osp.join(work_dir, f'{name}_metrics.json')) as f:
            metrics[name] = json.load(f)
    cfg = load_config(resolved_config(osp.join(work_dir, 'test_val'), config))
    return figures_of(metrics, cfg)


def file_sha256(path):
    """The sha256 of the file ``path`` (hex)."""
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, 'sha256').hexdigest()


def sha256_prefix(path):
    """The first 8 hex digits of the sha256 of the file ``path``."""
    return file_sha256(path)[:8]


def tree_sha256(root):
    """The first 8 hex digits of a sha256 over every file under ``root``
    (a data root: annotations, images, proposal files): each file's path
    relative to ``root`` and its content's sha256, in sorted path order, so
    the same data give the same digest wherever they lie."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'no data root {root}')
    files = sorted(
        osp.relpath(osp.join(folder, name), root)
        for folder, _, names in os.walk(root) for name in names)
    digest = hashlib.sha256()
    for rel in files:
        content = file_sha256(osp.join(root, rel))
        digest.update(f'{rel}\0{content}\n'.encode())
    return digest.hexdigest()[:8]
