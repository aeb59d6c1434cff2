# Ours+ whose SCM also sees where the image's other objects are
# (ContextHeatmapInputs): besides the query's max / sum heatmap, a channel
# painted from the confident boxes of every other class labelled present in
# the image, each class's scores relative to its top one. A rider's heatmap
# spills onto its carrier, and the paper's class-agnostic heatmap does not
# say where the carrier is; with the context channel the heatmap detector,
# trained on base classes, can learn to end a box where another object's
# heat begins. Beyond the paper (the "heatmap context channels");
# measured in the README ("The other classes as a context channel").
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(scm=dict(inputs=dict(type='ContextHeatmapInputs')))
