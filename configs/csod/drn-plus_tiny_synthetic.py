# Ours+ (beyond the paper): the DRN of drn_tiny_synthetic.py with the
# changes measured in the README's "Ours+" section, each a switch with its
# own ablation row in configs/csod/ablations/drn-plus_tiny_synthetic_*.py:
# - unlabelled_topk: the proposals the recognition head scores highest for a
#   novel class present in the image are never background for the
#   detection head (they may hold the unlabelled object).
_base_ = './drn_tiny_synthetic.py'
model = dict(unlabelled_topk=10)
