"""tools/analysis_tools/proposal_recall.py: the recall of the proposals a
config's dataset keeps, per class, novel boxes counted (read for measuring
only), with the near-duplicates that proposal_nms_iou would drop."""
import json
import os.path as osp

import numpy as np
import pytest
from conftest import BASE, CLASSES, NOVEL, load_tool
from mmengine.config import Config

TOOL = 'tools/analysis_tools/proposal_recall.py'

# cat [2, 3, 22, 13] and dog [38, 28, 58, 48] xyxy; the horse (novel)
# touches no proposal; the crowd person is not counted
ANNS = [('cat', [2, 3, 20, 10]), ('dog', [38, 28, 20, 20]),
        ('horse', [0, 40, 10, 10]),
        ('person', [60, 0, 20, 20], dict(iscrowd=1))]
# row 1 is a near-duplicate of row 0 (IoU 0.9); row 2 covers the dog
# (IoU 0.83)
PROPOSALS = np.array([[2, 3, 22, 13], [2, 3, 22, 12], [38, 28, 60, 50]],
                     np.float32)


@pytest.fixture
def config(tiny_coco, tmp_path):
    tiny_coco.add_image('a.jpg', ANNS, proposals=PROPOSALS)
    tiny_coco.write()
    dataset = dict(
        type='CSODCocoDataset',
        data_root=tiny_coco.root,
        ann_file='ann.json',
        data_prefix=dict(img='imgs/'),
        proposal_file='props.npz',
        num_max_proposals=2,
        metainfo=dict(classes=CLASSES, base_classes=BASE, novel_classes=NOVEL),
        pipeline=[])
    cfg = Config(dict(
        default_scope='mmdet',
        train_dataloader=dict(dataset=dataset),
        test_dataloader=dict(dataset=dict(dataset, test_mode=True))))
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    return path


def test_recall_of_the_kept_proposals(config, tmp_path):
    tool = load_tool(TOOL)
    out = str(tmp_path / 'recall.json')
    # the config's first two: the cat's box and its near-duplicate
    first = tool.main([config, '--out', out])
    assert first['recall'] == dict(
        all=33.3, cat=100.0, dog=0.0, horse=0.0, person=None)
    assert first['objects'] == dict(all=3, cat=1, dog=1, horse=1, person=0)
    # the cat has two proposals at IoU >= 0.5, its box and the duplicate
    assert first['positives_per_box'] == dict(
        all=0.67, cat=2.0, dog=0.0, horse=0.0, person=None)
    assert (first['boxes_per_image'], first['near_duplicate_pct']) == (2, 50)
    with open(out) as f:
        assert json.load(f) == first
    # the first two distinct ones reach the dog
    distinct = tool.main([config, '--nms-iou', '0.7'])
    assert distinct['recall']['dog'] == 100.0
    assert distinct['recall']['all'] == 66.7
    assert (distinct['boxes_per_image'],
            distinct['near_duplicate_pct']) == (2, 0)
    assert distinct['proposal_nms_iou'] == 0.7
    assert distinct['positives_per_box'] == dict(
        all=0.67, cat=1.0, dog=1.0, horse=0.0, person=None)
    every = tool.main([config, '--max-num', 'none', '--iou-thr', '0.9',
                       '--split', 'val'])
    assert every['boxes_per_image'] == 3
    assert every['recall'] == dict(
        all=33.3, cat=100.0, dog=0.0, horse=0.0, person=None)


@pytest.mark.parametrize('argv', [['--max-num', '0'], ['--max-num', 'x'],
                                  ['--nms-iou', 'x'], ['--iou-thr', '0']])
def test_bad_options_are_refused(config, argv):
    with pytest.raises(SystemExit):
        load_tool(TOOL).main([config, *argv])


def test_a_dataset_without_proposals_is_refused_by_name(config):
    cfg = Config.fromfile(config)
    cfg.train_dataloader.dataset.pop('proposal_file')
    path = osp.join(osp.dirname(config), 'no_props.py')
    cfg.dump(path)
    with pytest.raises(SystemExit, match='no proposal_file'):
        load_tool(TOOL).main([path])
