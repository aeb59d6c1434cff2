# Ours+ trained and tested on the first 150 *distinct* Selective Search boxes
# of an image (experiment): a box whose IoU with an earlier one of the file
# is above 0.7 (the NMS threshold of mmdet's RPN proposals) is dropped before
# the 150 are taken (CSODCocoDataset's proposal_nms_iou; proposal_cfg.nms_iou
# where the test pipeline computes an image's boxes). A third to a half of
# the first 150 stored boxes are near-duplicates of earlier ones; dropping
# them raises the recall at IoU 0.5 of the boxes kept (yard scenes' training
# boxes 84.7 -> 89.3 %) but thins the proposals at IoU >= 0.5 an
# object (3.92 -> 2.45). Measured and dropped (README "The first 150
# distinct proposals, measured and dropped"): yard scenes, seeds 0-2, 13.8 /
# 17.9 / 5.8 novel mAP50 against Ours+'s 24.1 / 27.6 / 17.3 on the same
# machine, base 65.0 against 70.4. Measured when the configs kept the first
# 150 boxes; since then they keep all of them, so this config keeps the 150
# as measured.
_base_ = '../drn-plus_tiny_synthetic.py'

max_proposals = 150
proposal_nms_iou = 0.7
proposal_cfg = dict(
    _base_.proposal_cfg, max_boxes=max_proposals, nms_iou=proposal_nms_iou)
test_pipeline = [
    dict(step, proposal_cfg=proposal_cfg)
    if step['type'] == 'LoadOrComputeProposals' else step
    for step in _base_.test_pipeline
]
tta_pipeline = [
    dict(step, proposal_cfg=proposal_cfg)
    if step['type'] == 'LoadOrComputeProposals' else step
    for step in _base_.tta_pipeline
]
train_dataloader = dict(
    dataset=dict(
        num_max_proposals=max_proposals, proposal_nms_iou=proposal_nms_iou))
val_dataloader = dict(
    dataset=dict(
        num_max_proposals=max_proposals,
        proposal_nms_iou=proposal_nms_iou,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
