# Ours+ without its SCM: the novel classes' pseudo boxes (for the detection
# head, and as the refinement's seeds with rec_pseudo_seeds) are the
# recognition head's top-scoring proposal of each present class, as in
# "Ours w/o SCM"; every other Ours+ switch stays. The leave-one-out row of
# the SCM itself: what the heatmap detector adds to Ours+ (README, "What
# the SCM adds to Ours+").
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(scm=None, pseudo_gt='rec')
