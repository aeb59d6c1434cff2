# PCL (Tang et al., TPAMI 2018): the OICR head with its refinement branches
# supervised by proposal clusters (graph-based centres, cluster-level loss)
# instead of top-proposal pseudo-labels; small CPU backbone, weak-only.
_base_ = ['./oicr_small-vgg_synthetic.py']
model = dict(
    roi_head=dict(
        bbox_head=dict(
            # PCL's clusters and their loss (PCLLoss) replace OICRTargets
            refine_targets=dict(
                _delete_=True,
                type='PCLTargets',
                graph_iou_thr=0.4,
                max_centers=5,
                min_remaining=5,
                top_k_means=3,
                fg_iou_thr=0.5,
                bg_iou_thr=0.1))))
