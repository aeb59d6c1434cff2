"""tools/analysis_tools/benchmark_speed.py: inference per image with the
proposals computed on the fly against precomputed, on two images; the
profile of a training step."""
import json
import os.path as osp

from analysis_tools.benchmark_speed import build, main, profile_train_steps
from conftest import REPO_ROOT


def test_on_the_fly_proposals_against_precomputed(synthetic_root, tmp_path,
                                                  capsys):
    out = tmp_path / 'speed.json'
    res = main([
        '--data-root', synthetic_root, '--proposals-only', '--proposal-images',
        '2', '--out',
        str(out)
    ])
    otf = res['proposals_on_the_fly']
    assert otf['images'] == 2
    assert otf['precomputed_s_per_img'] > 0 and otf['on_the_fly_s_per_img'] > 0
    assert otf['ratio'] == (
        otf['on_the_fly_s_per_img'] / otf['precomputed_s_per_img'])
    # the generated data's proposal_cfg is the one its proposals were made
    # with: the computed boxes are the precomputed ones
    assert otf['same_proposals'] == 2
    with open(out) as f:
        assert json.load(f)['proposals_on_the_fly'] == otf
    assert 'computed = precomputed on 2/2 images' in capsys.readouterr().out


def test_the_profile_shows_the_drn_scoring_every_proposal(synthetic_root,
                                                          tmp_path):
    """The DRN's shared fc layers run on every proposal of the batch (the
    recognition head scores them all), the Fast R-CNN's on its sampled
    RoIs only: the figure the Speed section's training-step ratio rests
    on."""
    rows, proposals = {}, {}
    for name, config in (('drn', ('csod', 'drn_tiny_synthetic.py')),
                         ('frcnn', ('fast_rcnn',
                                    'fast_rcnn_small-vgg_synthetic-base.py'))):
        model, optim, batches, _ = build(
            osp.join(REPO_ROOT, 'configs', *config), synthetic_root, 'cpu', 2)
        out = tmp_path / f'{name}.txt'
        prof = profile_train_steps(model, optim, batches[:1], str(out))
        assert prof['self_cpu_s'] > 0 and 'aten::addmm' in out.read_text()
        fc6_in = max(r[1] for r in prof['fc_forward'])  # the widest input
        rows[name] = {r[0] for r in prof['fc_forward'] if r[1] == fc6_in}
        proposals[name] = sum(
            len(s.proposals) for s in batches[0]['data_samples'])
    assert proposals['drn'] == proposals['frcnn']  # the same batch
    assert proposals['drn'] in rows['drn']
    assert max(rows['frcnn']) < proposals['drn']
