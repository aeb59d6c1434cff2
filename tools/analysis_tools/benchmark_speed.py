"""Training-step and inference cost of the DRN against a Fast R-CNN.

    python tools/analysis_tools/benchmark_speed.py [--data-root data/synthetic]
        [--drn configs/csod/drn_tiny_synthetic.py]
        [--frcnn configs/fast_rcnn/fast_rcnn_small-vgg_synthetic-base.py]
        [--iters 20] [--warmup 3] [--device cpu|cuda] [--out FILE.json]
        [--proposal-images 8] [--proposals-only] [--profile-steps N]

Both detectors use the same backbone and the same proposals on the same
batches; their steps are interleaved, so that load on the machine affects
both alike, and the figures are reported as ratios (targets: inference
<= 1.05x, training step <= 1.3x, SCM <= 10 % of a DRN step). Peak memory:
CUDA's max allocated when on a GPU, else each model's peak resident memory
measured in a child process of its own.

Also the DRN's inference per image from the image file (test pipeline and
forward pass, batch 1) with the dataset's precomputed proposals against
proposals computed on the fly by the test pipeline (LoadOrComputeProposals
with the config's proposal_cfg, as for a new image), on the first
``--proposal-images`` val images, interleaved, as a ratio; it also counts the
images whose computed proposals equal the precomputed ones (the generated
data: all, when proposal_cfg is the one the data was made with).
``--proposals-only`` runs only that comparison.
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/synthetic/')
    parser.add_argument('--drn', default='configs/csod/drn_tiny_synthetic.py')
    parser.add_argument(
        '--frcnn',
        default='configs/fast_rcnn/fast_rcnn_small-vgg_synthetic-base.py')
    parser.add_argument('--drn-checkpoint', help='trained weights: the NMS '
                        'cost depends on the scores, so random weights '
                        'misstate inference time')
    parser.add_argument('--frcnn-checkpoint')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default='work_dirs/benchmarks/speed.json')
    parser.add_argument(
        '--proposal-images', type=int, default=8,
        help='val images timed with proposals precomputed and computed on '
        'the fly (0: not timed)')
    parser.add_argument(
        '--proposals-only', action='store_true',
        help='only the precomputed / on-the-fly proposal comparison')
    parser.add_argument(
        '--profile-steps', type=int, default=0,
        help='also profile this many training steps of each detector '
        '(torch.profiler, after the timing): op tables in '
        '<out>_profile_<drn|frcnn>.txt, the rows of every fc layer in the '
        'json')
    parser.add_argument('--memory-of', choices=['drn', 'frcnn'],
                        help=argparse.SUPPRESS)  # child process mode
    return parser.parse_args(argv)


def build(config, data_root, device, batch_size, checkpoint=None):
    """Model (train mode) and a list of training batches and test batches."""
    import torch
    from mmdet.registry import DATASETS, MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.runner import set_random_seed

    import mmdet_csod  # noqa: F401
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(config)
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = data_root
    set_random_seed(0)
    model = MODELS.build(cfg.model).to(device)
    model.init_weights()
    if checkpoint:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location=device)
    if hasattr(model, 'pseudo_gt_enabled'):
        model.pseudo_gt_enabled = True
    train_set = DATASETS.build(cfg.train_dataloader.dataset)
    val_set = DATASETS.build(cfg.val_dataloader.dataset)
    train_batches = [
        pseudo_collate([train_set[(i * batch_size + j) % len(train_set)]
                        for j in range(batch_size)]) for i in range(8)
    ]
    test_batches = [pseudo_collate([val_set[i]]) for i in range(8)]
    optim = torch.optim.SGD(model.parameters(), lr=1e-4)
    return model, optim, train_batches, test_batches


class SCMTimer:
    """Wall time spent in the SCM's loss and predict calls."""

    def __init__(self, scm, sync):
        self.total = 0.0
        self.sync = sync
        for name in ('loss', 'predict'):
            fn = getattr(scm, name)
            setattr(scm, name, self._wrap(fn))

    def _wrap(self, fn):

        def timed(*args, **kwargs):
            self.sync()
            t = time.perf_counter()
            out = fn(*args, **kwargs)
            self.sync()
            self.total += time.perf_counter() - t
            return out

        return timed


def main(argv=None):
    args = parse_args(argv)
    import torch
    torch.manual_seed(0)
    sync = torch.cuda.synchronize if args.device.startswith('cuda') \
        else (lambda: None)
    if args.memory_of:
        config = args.drn if args.memory_of == 'drn' else args.frcnn
        model, optim, train_b, test_b = build(config, args.data_root,
                                              args.device, args.batch_size)
        import psutil
        before = psutil.Process().memory_info().rss / 2**20
        for batch in train_b[:3]:
            train_step(model, optim, batch)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # ru_maxrss is the whole life's peak: building the dataset may
        # dominate it, so the growth over the resident size before the
        # steps is reported too (a lower bound on the steps' own need)
        print(json.dumps(dict(peak_rss_mb=peak,
                              step_rss_mb=max(0.0, peak - before))))
        return

    if args.proposals_only:
        if args.proposal_images < 1:
            raise SystemExit('--proposals-only needs --proposal-images >= 1')
        res = dict(device=args.device,
                   proposals_on_the_fly=time_proposals(
                       args.drn, args.data_root, args.device,
                       args.proposal_images, args.drn_checkpoint, sync))
        return _report(res, args.out)

    models = {}
    for name, config, ckpt in (('frcnn', args.frcnn, args.frcnn_checkpoint),
                               ('drn', args.drn, args.drn_checkpoint)):
        models[name] = build(config, args.data_root, args.device,
                             args.batch_size, ckpt)
    scm = getattr(models['drn'][0], 'scm', None)
    timer = SCMTimer(scm, sync) if scm is not None else None

    train_t = {k: 0.0 for k in models}
    test_t = {k: 0.0 for k in models}
    for it in range(args.warmup + args.iters):
        if it == args.warmup and timer is not None:
            timer.total = 0.0
        for name, (model, optim, train_b, test_b) in models.items():
            batch = train_b[it % len(train_b)]
            sync()
            t = time.perf_counter()
            train_step(model, optim, batch)
            sync()
            if it >= args.warmup:
                train_t[name] += time.perf_counter() - t
            model.eval()
            with torch.no_grad():
                tb = test_b[it % len(test_b)]
                sync()
                t = time.perf_counter()
                model.test_step(tb)
                sync()
                if it >= args.warmup:
                    test_t[name] += time.perf_counter() - t
            model.train()

    n = args.iters
    res = dict(
        device=args.device,
        batch_size=args.batch_size,
        iters=n,
        train_step_s=dict((k, v / n) for k, v in train_t.items()),
        inference_s_per_img=dict((k, v / n) for k, v in test_t.items()),
    )
    res['train_ratio'] = res['train_step_s']['drn'] / \
        res['train_step_s']['frcnn']
    res['inference_ratio'] = res['inference_s_per_img']['drn'] / \
        res['inference_s_per_img']['frcnn']
    if timer is not None:
        res['scm_share_of_step'] = timer.total / train_t['drn']
    if args.device.startswith('cuda'):
        res['peak_memory_mb'] = torch.cuda.max_memory_allocated() / 2**20
    else:
        res['peak_rss_mb'] = {}
        for name in models:
            out = subprocess.run(
                [sys.executable, __file__, '--memory-of', name,
                 '--data-root', args.data_root, '--drn', args.drn,
                 '--frcnn', args.frcnn, '--batch-size',
                 str(args.batch_size)],
                capture_output=True, text=True, check=True).stdout
            res['peak_rss_mb'][name] = json.loads(out.splitlines()[-1])
    if args.profile_steps > 0:
        stem = osp.splitext(args.out)[0]
        res['profile'] = {
            name: profile_train_steps(
                model, optim, train_b[:args.profile_steps],
                f'{stem}_profile_{name}.txt')
            for name, (model, optim, train_b, _) in models.items()
        }
    if args.proposal_images > 0:
        del models
        res['proposals_on_the_fly'] = time_proposals(
            args.drn, args.data_root, args.device, args.proposal_images,
            args.drn_checkpoint, sync)
    return _report(res, args.out)


def _report(res, out):
    print_table(res)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(res, f, indent=2)
    print(f'written {out}')
    return res


def time_proposals(config, data_root, device, num_images, checkpoint=None,
                   sync=lambda: None, warmup=1):
    """Seconds per image of test pipeline + forward pass (batch 1) with the
    dataset's precomputed proposals and with proposals computed on the fly
    (the sample's ``proposals`` removed, so LoadOrComputeProposals computes
    them), the two interleaved per image; their ratio; and how many images'
    computed proposals equal the precomputed ones (after the pipeline)."""
    import copy

    import torch
    from mmdet.registry import DATASETS, MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.runner import set_random_seed

    import mmdet_csod  # noqa: F401
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(config)
    cfg.val_dataloader.dataset.data_root = data_root
    set_random_seed(0)
    model = MODELS.build(cfg.model).to(device)
    model.init_weights()
    if checkpoint:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location=device)
    model.eval()
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    num_images = min(num_images, len(dataset))
    seconds = dict(precomputed=0.0, on_the_fly=0.0)
    same = 0
    for it in range(warmup + num_images):
        info = dataset.get_data_info(it % num_images)
        if info.get('proposals') is None:
            raise ValueError(f'{config}: the val set has no proposal_file '
                             'to compare the computed proposals with')
        boxes = {}
        for mode in seconds:
            sample = copy.deepcopy(info)
            if mode == 'on_the_fly':
                del sample['proposals']
            sync()
            start = time.perf_counter()
            data = dataset.pipeline(sample)
            with torch.no_grad():
                model.test_step(pseudo_collate([data]))
            sync()
            if it >= warmup:
                seconds[mode] += time.perf_counter() - start
            boxes[mode] = data['data_samples'].proposals.bboxes
        if it >= warmup:
            same += int(torch.equal(boxes['precomputed'], boxes['on_the_fly']))
    out = {f'{k}_s_per_img': v / num_images for k, v in seconds.items()}
    out.update(
        config=config,
        images=num_images,
        ratio=seconds['on_the_fly'] / seconds['precomputed'],
        same_proposals=same)
    return out


def profile_train_steps(model, optim, batches, out_txt):
    """Profile training steps of ``model`` on ``batches`` (torch.profiler,
    CPU ops with their input shapes).

    Writes the op tables (by total time, and by input shape) to
    ``out_txt`` and returns ``self_cpu_s`` (all ops, all steps) and
    ``fc_forward``: each fc layer's forward (``aten::addmm``) as
    ``[rows, in, out, calls]``, so a reader sees how many RoIs each head
    scores (the DRN's recognition head: every proposal).
    """
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU],
                 record_shapes=True) as prof:
        for batch in batches:
            train_step(model, optim, batch)
    by_shape = prof.key_averages(group_by_input_shape=True)
    os.makedirs(osp.dirname(osp.abspath(out_txt)), exist_ok=True)
    with open(out_txt, 'w') as f:
        f.write(prof.key_averages().table(sort_by='cpu_time_total',
                                          row_limit=40) + '\n')
        f.write(by_shape.table(sort_by='self_cpu_time_total',
                               row_limit=40) + '\n')
    fc = sorted([e.input_shapes[1][0], e.input_shapes[1][1],
                 e.input_shapes[2][1], e.count] for e in by_shape
                if e.key == 'aten::addmm' and len(e.input_shapes) > 2
                and len(e.input_shapes[1]) == 2)
    total = sum(e.self_cpu_time_total for e in prof.key_averages())
    return dict(self_cpu_s=total / 1e6, fc_forward=fc, tables=out_txt)


def train_step(model, optim, batch):
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    optim.zero_grad()
    loss.backward()
    optim.step()


def print_table(res):
    if 'train_step_s' in res:
        _print_steps(res)
    otf = res.get('proposals_on_the_fly')
    if otf:
        print(f'inference / image from the file ({otf["images"]} val images, '
              f'{osp.basename(otf["config"])}): precomputed proposals '
              f'{otf["precomputed_s_per_img"] * 1e3:.1f} ms, computed on the '
              f'fly {otf["on_the_fly_s_per_img"] * 1e3:.1f} ms = '
              f'{otf["ratio"]:.2f}x; computed = precomputed on '
              f'{otf["same_proposals"]}/{otf["images"]} images')


def _print_steps(res):
    tr, te = res['train_step_s'], res['inference_s_per_img']
    print(f'device {res["device"]}, batch {res["batch_size"]}, '
          f'{res["iters"]} iterations each')
    print(f'{"":12}{"Fast R-CNN":>12}{"DRN":>12}{"ratio":>8}{"target":>8}')
    print(f'{"train step":12}{tr["frcnn"] * 1e3:>10.1f}ms'
          f'{tr["drn"] * 1e3:>10.1f}ms{res["train_ratio"]:>8.2f}'
          f'{"1.30":>8}')
    print(f'{"inference":12}{te["frcnn"] * 1e3:>10.1f}ms'
          f'{te["drn"] * 1e3:>10.1f}ms{res["inference_ratio"]:>8.2f}'
          f'{"1.05":>8}')
    if 'scm_share_of_step' in res:
        print(f'SCM share of a DRN training step: '
              f'{100 * res["scm_share_of_step"]:.1f} % (target <= 10 %)')
    if 'peak_memory_mb' in res:
        print(f'peak CUDA memory: {res["peak_memory_mb"]:.0f} MB')
    for name, mem in res.get('peak_rss_mb', {}).items():
        print(f'peak RSS {name}: {mem["peak_rss_mb"]:.0f} MB '
              f'(+{mem["step_rss_mb"]:.0f} MB over 3 training steps)')


if __name__ == '__main__':
    main()
