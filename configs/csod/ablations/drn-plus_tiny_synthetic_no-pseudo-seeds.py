# Ours+ without its pseudo boxes seeding the recognition head's refinement:
# the novel classes' seeds stay the recognition head's own top-scoring
# proposals, as in the paper (and so the base classes' too:
# rec_scm_base_seeds goes with rec_pseudo_seeds). With pseudo_off_base_boxes
# off too it is the Ours+ of the previous round.
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(rec_pseudo_seeds=False, rec_scm_base_seeds=False)
