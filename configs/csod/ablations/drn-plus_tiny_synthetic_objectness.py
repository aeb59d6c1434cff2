# Ours+ with an objectness head (experiment): a class-agnostic score of
# whole objects learnt from the base boxes on the shared fc features
# (ObjectnessHead), and the recognition scores that the SCM and the pseudo
# boxes are made from weighed by it, base and novel queries alike.
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(objectness_head=dict(type='ObjectnessHead', in_channels=512))
