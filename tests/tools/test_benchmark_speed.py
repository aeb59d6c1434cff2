"""tools/analysis_tools/benchmark_speed.py: inference per image with the
proposals computed on the fly against precomputed, on two images."""
import json

from analysis_tools.benchmark_speed import main


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
