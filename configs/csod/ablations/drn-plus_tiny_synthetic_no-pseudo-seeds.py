# Ours+ without its pseudo boxes seeding the recognition head's refinement:
# the novel classes' seeds stay the recognition head's own top-scoring
# proposals, as in the paper. With pseudo_off_base_boxes off too it is the
# Ours+ of an earlier round (README, "Ours+").
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(rec_pseudo_seeds=False)
