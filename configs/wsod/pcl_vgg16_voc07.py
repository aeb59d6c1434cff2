# PCL (Tang et al., TPAMI 2018) on VGG16 / VOC07: OICR's architecture with
# proposal-cluster targets and the cluster-level loss in the refinement
# branches. Same schedule as OICR.
_base_ = './oicr_vgg16_voc07.py'
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
