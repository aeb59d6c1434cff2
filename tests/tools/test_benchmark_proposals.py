"""tools/analysis_tools/benchmark_proposals.py at a tiny size."""
import os
import os.path as osp

import numpy as np
from analysis_tools.benchmark_proposals import (idle_memory, main, memory_of,
                                                random_boxes)


def test_tiny_run_reports_and_cleans_up(tmp_path, capsys):
    out = tmp_path / 'figures.json'
    r = main([
        '--images', '40', '--boxes', '30', '--workers', '2', '--samples', '25',
        '--work-dir',
        str(tmp_path / 'work'), '--no-idle', '--out',
        str(out)
    ])
    assert r['samples_with_all_boxes'] == 25
    assert r['file_mib'] > 40 * 30 * 20 / 2**20  # uncompressed boxes+scores
    assert r['build_s'] > 0 and r['build_cpu_s'] > 0
    assert len(r['workers_after_samples']) == 2
    for mem in r['workers_after_samples'].values():
        assert mem['VmRSS'] > 0
    assert os.listdir(tmp_path / 'work') == []  # the files are deleted
    assert out.exists()
    text = capsys.readouterr().out
    assert 'dataset built in' in text and 'worker 1 after samples' in text


def test_keep_leaves_the_files(tmp_path):
    r = main([
        '--images', '5', '--boxes', '4', '--workers', '0', '--samples', '5',
        '--work-dir',
        str(tmp_path), '--no-idle', '--keep'
    ])
    assert osp.isfile(osp.join(r['kept'], 'proposals.npz'))
    assert r['workers_after_samples'] == {}


def test_boxes_are_valid_and_memory_is_read():
    b = random_boxes(np.random.default_rng(0), 10000)
    assert (b[:, 2:] - b[:, :2] >= 4).all()
    assert (b[:, :2] >= 0).all() and (b[:, 2] <= 640).all() and \
        (b[:, 3] <= 480).all()
    assert memory_of()['VmRSS'] > 0
    bare = idle_memory('')
    assert 0 < bare['VmRSS'] < memory_of()['VmRSS']
