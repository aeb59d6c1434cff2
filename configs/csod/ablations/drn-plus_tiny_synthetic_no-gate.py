# Ours+ without the SCM gate: the SCM's pseudo boxes always (as the paper),
# with the exp regression of Ours+.
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(scm_gate=None)
