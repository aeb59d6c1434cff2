"""synthesize_heatmap against a hand-written case and a per-pixel loop."""
import math

import numpy as np
import pytest
import torch

from mmdet_csod.models.utils import synthesize_heatmap


def _reference(bboxes, scores, size, modes):
    """The definition written out pixel by pixel, box by box."""
    height, width = size
    out = np.zeros((len(modes), height, width))
    for i in range(height):
        for j in range(width):
            covering = [
                n for n, (x1, y1, x2, y2) in enumerate(bboxes)
                if math.floor(y1) <= i < math.ceil(y2)
                and math.floor(x1) <= j < math.ceil(x2)
            ]
            for k, mode in enumerate(modes):
                if not covering:
                    continue
                if mode == 'max':
                    out[k, i, j] = max(scores[n] for n in covering)
                elif mode == 'sum':
                    out[k, i, j] = sum(scores[n] for n in covering)
                else:
                    out[k, i, j] = len(covering)
    return out


def _random_boxes(rng, num, height, width):
    """Fractional boxes, some partly or wholly outside the map, some of
    zero size (at integer and at fractional positions)."""
    xy = rng.uniform(-4, [width + 2, height + 2], size=(num, 2))
    wh = rng.uniform(0, [width / 2, height / 2], size=(num, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    boxes[:3, 2:] = boxes[:3, :2]  # zero size, fractional position
    boxes[3, :] = [2., 3., 2., 3.]  # zero size, integer position
    boxes[4, :] = [-3., -2., width + 5., height + 1.]  # covers the map
    boxes[5, :] = [1., 1., 4., 3.]  # integer corners
    return boxes


MODE_ORDERS = [('max', ), ('sum', ), ('num', ), ('max', 'sum'), ('sum', 'max'),
               ('num', 'max', 'sum'), ('sum', 'num', 'max')]


@pytest.mark.parametrize('modes', MODE_ORDERS)
def test_against_reference(modes):
    rng = np.random.default_rng(0)
    for height, width, num in [(13, 17, 25), (9, 6, 8), (1, 1, 7)]:
        boxes = _random_boxes(rng, num, height, width)
        scores = rng.uniform(0.01, 1.0, size=num)
        out = synthesize_heatmap(
            torch.from_numpy(boxes).float(),
            torch.from_numpy(scores).float(), (height, width), modes)
        assert out.shape == (len(modes), height, width)
        assert out.dtype == torch.float32
        expected = _reference(
            boxes.astype(np.float32).tolist(),
            scores.astype(np.float32).tolist(), (height, width), modes)
        np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)


def test_hand_written_case():
    boxes = torch.tensor([
        [0., 0., 2., 2.],  # rows 0-1, columns 0-1
        [1.5, 0.2, 3., 1.],  # row 0, columns 1-2
        [-2., 3., 1., 10.],  # row 3 (clipped), column 0 (clipped)
        [4., 1., 4., 2.],  # zero width at an integer x: nothing
    ])
    scores = torch.tensor([0.5, 0.8, 0.25, 0.9])
    out = synthesize_heatmap(boxes, scores, (4, 5), ('max', 'sum', 'num'))
    expected_max = torch.tensor([[0.5, 0.8, 0.8, 0, 0], [0.5, 0.5, 0, 0, 0],
                                 [0, 0, 0, 0, 0], [0.25, 0, 0, 0, 0]])
    expected_sum = torch.tensor([[0.5, 1.3, 0.8, 0, 0], [0.5, 0.5, 0, 0, 0],
                                 [0, 0, 0, 0, 0], [0.25, 0, 0, 0, 0]])
    expected_num = torch.tensor([[1., 2, 1, 0, 0], [1, 1, 0, 0, 0],
                                 [0, 0, 0, 0, 0], [1, 0, 0, 0, 0]])
    torch.testing.assert_close(out[0], expected_max)
    torch.testing.assert_close(out[1], expected_sum)
    torch.testing.assert_close(out[2], expected_num)
    # the default is the paper's (max, sum) pair
    torch.testing.assert_close(
        synthesize_heatmap(boxes, scores, (4, 5)), out[:2])


def test_empty_dtype_and_errors():
    out = synthesize_heatmap(
        torch.zeros((0, 4)), torch.zeros((0, ), dtype=torch.float64), (3, 4),
        ('num', 'max'))
    assert out.shape == (2, 3, 4) and out.dtype == torch.float64
    assert not out.any()
    out = synthesize_heatmap(
        torch.tensor([[0., 0., 2., 2.]]),
        torch.tensor([0.5], dtype=torch.float64), (2, 2))
    assert out.dtype == torch.float64
    # scores that require grad are not differentiated through
    scores = torch.tensor([0.5], requires_grad=True)
    assert not synthesize_heatmap(
        torch.tensor([[0., 0., 1., 1.]]), scores, (2, 2)).requires_grad
    with pytest.raises(ValueError):
        synthesize_heatmap(
            torch.zeros((1, 4)), torch.ones(1), (2, 2), ('mean', ))
    with pytest.raises(ValueError):
        synthesize_heatmap(torch.zeros((2, 4)), torch.ones(1), (2, 2))


def test_max_in_chunks(monkeypatch):
    """The chunked running max agrees with the one-shot one."""
    from mmdet_csod.models.utils import heatmap
    rng = np.random.default_rng(1)
    boxes = torch.from_numpy(_random_boxes(rng, 30, 11, 12)).float()
    scores = torch.from_numpy(rng.uniform(0.01, 1, size=30)).float()
    full = synthesize_heatmap(boxes, scores, (11, 12), ('max', ))
    monkeypatch.setattr(heatmap, '_MAX_CHUNK_ELEMS', 11 * 12 * 7)
    torch.testing.assert_close(
        synthesize_heatmap(boxes, scores, (11, 12), ('max', )), full)
