# The paper's COCO schedule: 13 epochs, lr 1e-3 / 10 at the 8th and 12th
# epochs; pseudo ground truth held back for the first 5 epochs (configs
# using it: PseudoGTSwitchHook start_epoch=5, 0-based). Optimizer as on VOC.
_base_ = './schedule_drn_voc_20e.py'
train_cfg = dict(max_epochs=13, val_interval=13)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=13,
        by_epoch=True,
        # the 8th and 12th epochs (0-based 7 and 11) are the first at the
        # lower lr, as milestone 13 on VOC for "at the 14th"
        milestones=[7, 11],
        gamma=0.1)
]
