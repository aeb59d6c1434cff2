# Finetune, stage 2 of 2: from the stage-1 checkpoint, the model is
# fine-tuned through the recognition head on novel image labels only; novel
# detections come from the recognition head.
#   python tools/train.py configs/csod/finetune-stage1_tiny_synthetic.py
#   python tools/train.py configs/csod/finetune-stage2_tiny_synthetic.py
_base_ = './two-head_tiny_synthetic.py'
model = dict(loss_weights=dict(rec=1.0, det=0.0))
load_from = 'work_dirs/finetune-stage1_tiny_synthetic/epoch_2.pth'
