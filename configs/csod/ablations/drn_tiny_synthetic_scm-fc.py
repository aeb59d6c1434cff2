# Table 3b: the regression baseline: three fc layers regress the object box
# from the coordinates and scores of the top-scoring boxes, no heatmap.
_base_ = '../drn_tiny_synthetic.py'
model = dict(
    scm=dict(
        inputs=dict(_delete_=True, type='BoxInputs'),
        detector=dict(
            _delete_=True, type='ProposalFCRegressor', topk=10, num_fcs=3)))
