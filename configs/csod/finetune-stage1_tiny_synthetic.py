# Finetune, stage 1 of 2: the detection head learns base classes from their
# boxes (the recognition head is not trained).
_base_ = './two-head_tiny_synthetic.py'
model = dict(loss_weights=dict(rec=0.0, det=1.0))
