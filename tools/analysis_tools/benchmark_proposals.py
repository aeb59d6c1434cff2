"""Proposals at COCO scale: file size, dataset build time, resident memory.

Example (COCO train2017's size; about 4.7 GB written to a temporary folder,
deleted afterwards)::

    python tools/analysis_tools/benchmark_proposals.py --images 118287 \\
        --boxes 2000

It writes a COCO json of ``--images`` images (640 x 480, one box each, no
image files) and a proposal file of ``--boxes`` random valid boxes an image,
builds a :class:`CSODCocoDataset` over them (``serialize_data=True``, as in
training), then draws ``--samples`` random samples through a DataLoader with
``--workers`` workers (fork, the Linux default) and reports:

- the proposal file's size and the time to build the dataset;
- VmRSS (and its anonymous / file-backed parts, and PSS where the kernel
  gives it) of the main process after the build and of each worker after
  the samples, next to an idle interpreter's: one that imported the same
  libraries (torch, mmdet, mmdet_csod) and built nothing, and a bare one.

``--format compressed`` writes the old format (version 1, zip-compressed)
instead; with ``PYTHONPATH`` pointing at an older checkout it measures the
old loading path. It holds every box in memory several times over, so it
refuses sizes whose estimate exceeds ``--max-mem-gb``; measure a fraction
(``--images 14786``) and scale.
"""
import argparse
import importlib.util
import inspect
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_ADDED_ROOT = importlib.util.find_spec('mmdet_csod') is None
if _ADDED_ROOT:  # else the installed (or PYTHONPATH's) package is measured
    sys.path.insert(0, REPO_ROOT)

CLASSES = ('cat', 'dog', 'horse', 'person')
IMG_H, IMG_W = 480, 640
_CHUNK_IMAGES = 512
_IDLE_CODE = ('import torch, mmdet, mmengine, mmdet_csod\n'
              'from mmdet.utils import register_all_modules\n'
              'register_all_modules()\n')


def memory_of(pid='self') -> dict:
    """VmRSS, RssAnon, RssFile, VmHWM (and Pss) of a process, in MiB."""
    out = {}
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            key = line.split(':')[0]
            if key in ('VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'VmHWM'):
                out[key] = int(line.split()[1]) / 1024
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for line in f:
                if line.startswith('Pss:'):
                    out['Pss'] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def idle_memory(code: str) -> dict:
    """Memory of a fresh interpreter after running ``code``."""
    code += ('\nimport json\n' + inspect.getsource(memory_of) +
             'print(json.dumps(memory_of()))\n')
    env = dict(os.environ)
    if _ADDED_ROOT:
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    out = subprocess.run([sys.executable, '-c', code],
                         check=True,
                         capture_output=True,
                         text=True,
                         env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def random_boxes(rng, n: int) -> np.ndarray:
    """``n`` valid xyxy boxes inside an IMG_W x IMG_H image, float32."""
    x1 = rng.uniform(0, IMG_W - 8, n)
    y1 = rng.uniform(0, IMG_H - 8, n)
    x2 = x1 + 4 + rng.random(n) * (IMG_W - x1 - 4)
    y2 = y1 + 4 + rng.random(n) * (IMG_H - y1 - 4)
    boxes = np.stack([x1, y1, np.minimum(x2, IMG_W), np.minimum(y2, IMG_H)], 1)
    return boxes.astype(np.float32)


def make_data(root: str, images: int, boxes: int, fmt: str, seed: int) -> str:
    """The json and the proposal file; returns the proposal file's path."""
    names = [f'{i:012d}.jpg' for i in range(images)]
    cats = [dict(id=i + 1, name=c) for i, c in enumerate(CLASSES)]
    imgs = [
        dict(id=i + 1, file_name=n, height=IMG_H, width=IMG_W)
        for i, n in enumerate(names)
    ]
    anns = [
        dict(
            id=i + 1,
            image_id=i + 1,
            category_id=i % len(CLASSES) + 1,
            bbox=[10, 10, 100, 80],
            area=8000,
            iscrowd=0) for i in range(images)
    ]
    with open(osp.join(root, 'ann.json'), 'w') as f:
        json.dump(dict(images=imgs, annotations=anns, categories=cats), f)
    keys = ['train2017/' + n for n in names]
    offsets = np.arange(images + 1, dtype=np.int64) * boxes
    path = osp.join(root, 'proposals.npz')
    rng = np.random.default_rng(seed)
    if fmt == 'compressed':  # format 1, as save_proposals wrote it before
        np.savez_compressed(
            path,
            version=np.int64(1),
            file_names=np.asarray(keys, dtype=str),
            offsets=offsets,
            bboxes=random_boxes(rng, images * boxes),
            scores=rng.random(images * boxes, dtype=np.float32))
        return path
    from mmdet_csod.datasets.proposals import write_proposal_file
    chunk = _CHUNK_IMAGES * boxes
    write_proposal_file(path, keys, offsets,
                        (random_boxes(rng, min(chunk, images * boxes - s))
                         for s in range(0, images * boxes, chunk)),
                        (np.random.default_rng(seed + 1).random(
                            min(chunk, images * boxes - s), dtype=np.float32)
                         for s in range(0, images * boxes, chunk)))
    return path


class _Probe:
    """A sample's process, its proposal count, and that process's memory."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int) -> dict:
        sample = self.dataset[idx]
        return dict(pid=os.getpid(), proposals=len(sample['proposals']))


def run(args) -> dict:
    """Make the data, build the dataset, draw samples; returns the figures."""
    import torch
    from mmdet.utils import register_all_modules

    import mmdet_csod
    from mmdet_csod.datasets import CSODCocoDataset
    register_all_modules()
    file_gb = args.images * args.boxes * 20 / 1e9
    if args.format == 'compressed' and 4 * file_gb > args.max_mem_gb:
        raise SystemExit(
            f'--format compressed holds the boxes about 4 times over '
            f'(~{4 * file_gb:.1f} GB for {args.images} x {args.boxes}), '
            f'above --max-mem-gb {args.max_mem_gb}; use fewer --images')
    result = dict(
        images=args.images,
        boxes_per_image=args.boxes,
        format=args.format,
        workers=args.workers,
        samples=args.samples,
        mmdet_csod=osp.dirname(mmdet_csod.__file__))
    if not args.no_idle:
        result['idle_bare'] = idle_memory('')
        result['idle_imports'] = idle_memory(_IDLE_CODE)
    os.makedirs(args.work_dir, exist_ok=True) if args.work_dir else None
    root = tempfile.mkdtemp(prefix='bench_proposals_', dir=args.work_dir)
    try:
        t0 = time.perf_counter()
        path = make_data(root, args.images, args.boxes, args.format, args.seed)
        result['write_s'] = time.perf_counter() - t0
        result['file_mib'] = osp.getsize(path) / 2**20
        result['before_build'] = memory_of()
        extra = {}
        if args.scan_max_boxes is not None:
            extra['proposal_scan_max_boxes'] = (None if args.scan_max_boxes < 0
                                                else args.scan_max_boxes)
        cfg = dict(
            data_root=root,
            ann_file='ann.json',
            data_prefix=dict(img='train2017/'),
            proposal_file='proposals.npz',
            metainfo=dict(
                classes=CLASSES,
                base_classes=CLASSES[:2],
                novel_classes=CLASSES[2:]),
            pipeline=[dict(type='LoadProposals', num_max_proposals=None)],
            num_max_proposals=args.boxes,
            check_image_files=False,
            serialize_data=True,
            **extra)
        t0, c0 = time.perf_counter(), time.process_time()
        ds = CSODCocoDataset(**cfg)
        result['build_s'] = time.perf_counter() - t0
        result['build_cpu_s'] = time.process_time() - c0
        result['load_average'] = os.getloadavg()[0]
        result['cpus'] = os.cpu_count()
        result['main_after_build'] = memory_of()
        result['serialized_mib'] = ds.data_bytes.nbytes / 2**20
        loader = torch.utils.data.DataLoader(
            _Probe(ds),
            batch_size=1,
            num_workers=args.workers,
            sampler=torch.utils.data.RandomSampler(
                ds, generator=torch.Generator().manual_seed(args.seed)),
            collate_fn=lambda batch: batch[0])
        counts, pids = [], set()
        t0 = time.perf_counter()
        it = iter(loader)
        for _ in range(min(args.samples, len(ds))):
            sample = next(it)
            counts.append(sample['proposals'])
            pids.add(sample['pid'])
        result['samples_s'] = time.perf_counter() - t0
        result['workers_after_samples'] = {
            str(pid): memory_of(pid)
            for pid in sorted(pids) if pid != os.getpid()
        }
        result['main_after_samples'] = memory_of()
        result['samples_with_all_boxes'] = int(
            sum(c == args.boxes for c in counts))
        del it, loader, ds
        if not args.no_baseline:  # the same json without a proposal file
            cfg.update(proposal_file=None, pipeline=[])
            t0, c0 = time.perf_counter(), time.process_time()
            CSODCocoDataset(**cfg)
            result['build_without_proposals_s'] = time.perf_counter() - t0
            result['build_without_proposals_cpu_s'] = (
                time.process_time() - c0)
    finally:
        if args.keep:
            result['kept'] = root
        else:
            shutil.rmtree(root, ignore_errors=True)
    return result


def _line(name: str, mem: dict, idle: dict = None) -> str:
    s = (f'  {name:<22} RSS {mem["VmRSS"]:8.1f} MiB (anon '
         f'{mem.get("RssAnon", 0):7.1f}, file {mem.get("RssFile", 0):7.1f})')
    if 'Pss' in mem:
        s += f'  PSS {mem["Pss"]:8.1f}'
    if idle:
        s += f'  {mem["VmRSS"] - idle["VmRSS"]:+.1f} over idle'
    return s


def report(r: dict) -> str:
    idle = r.get('idle_imports')
    lines = [
        f'{r["images"]} images x {r["boxes_per_image"]} boxes, format '
        f'{r["format"]} (mmdet_csod from {r["mmdet_csod"]})',
        f'  proposal file           {r["file_mib"]:.1f} MiB (written in '
        f'{r["write_s"]:.1f} s)',
        f'  dataset built in        {r["build_s"]:.2f} s, '
        f'{r["build_cpu_s"]:.2f} s of CPU (load average '
        f'{r["load_average"]:.1f} on {r["cpus"]} CPUs); serialized data list '
        f'{r["serialized_mib"]:.1f} MiB',
        f'  {r["samples"]} samples in {r["samples_s"]:.1f} s with '
        f'{r["workers"]} workers; {r["samples_with_all_boxes"]} of them with '
        f'all {r["boxes_per_image"]} boxes',
    ]
    if 'build_without_proposals_s' in r:
        lines.insert(
            3,
            f'  without proposal file   {r["build_without_proposals_s"]:.2f}'
            f' s, {r["build_without_proposals_cpu_s"]:.2f} s of CPU')
    if idle:
        lines.append(_line('idle, bare python', r['idle_bare']))
        lines.append(_line('idle, same imports', idle))
    lines.append(
        _line('main after build', r['main_after_build'], idle) +
        f'  peak {r["main_after_build"].get("VmHWM", 0):.1f}')
    lines.append(_line('main after samples', r['main_after_samples'], idle))
    for i, mem in enumerate(r['workers_after_samples'].values()):
        lines.append(_line(f'worker {i} after samples', mem, idle))
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Proposal file size, dataset build time and resident '
        'memory of the main process and the data loader workers.')
    parser.add_argument('--images', type=int, default=2000)
    parser.add_argument('--boxes', type=int, default=2000)
    parser.add_argument('--workers', type=int, default=4)
    parser.add_argument('--samples', type=int, default=1000)
    parser.add_argument(
        '--format',
        choices=('mmap', 'compressed'),
        default='mmap',
        help='mmap: format 2 (default); compressed: the old '
        'format 1')
    parser.add_argument(
        '--scan-max-boxes',
        type=int,
        default=None,
        help="the dataset's proposal_scan_max_boxes (-1: "
        'always scan; default: the dataset default)')
    parser.add_argument(
        '--work-dir',
        help='folder for the temporary files (default: the '
        "system's temp folder)")
    parser.add_argument(
        '--keep', action='store_true', help='keep the generated files')
    parser.add_argument('--max-mem-gb', type=float, default=8.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--no-baseline',
        action='store_true',
        help='skip building the dataset again without the proposal file')
    parser.add_argument(
        '--no-idle',
        action='store_true',
        help='skip measuring the idle interpreters')
    parser.add_argument('--out', help='also write the figures as json here')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    result = run(args)
    print(report(result))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
