# PASCAL VOC 2007 + 2012 trainval -> VOC 2007 test, same split as voc07_csod.
_base_ = './voc07_csod.py'

train_dataloader = dict(
    dataset=dict(
        ann_file='annotations/voc0712_trainval.json',
        proposal_file='proposals/ss_voc0712_trainval.npz'))
