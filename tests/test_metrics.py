"""Dice, IoU, box IoU, detection AP and ink boxes on cases small enough to work out by hand."""

from __future__ import annotations

import pytest
import torch

from mnist_demo.data import ink_boxes
from mnist_demo.metrics import Detections, average_precision, dice, iou, paired_box_iou, share_inside


def mask(*rows: str) -> torch.Tensor:
    """A bool mask drawn with '#' for ink and '.' for background."""
    return torch.tensor([[character == "#" for character in row] for row in rows])


def truth(boxes: list[list[float]], labels: list[int]) -> Detections:
    return Detections(torch.tensor(boxes).view(-1, 4), torch.tensor(labels, dtype=torch.long), torch.ones(len(labels)))


def found(boxes: list[list[float]], labels: list[int], scores: list[float]) -> Detections:
    return Detections(torch.tensor(boxes).view(-1, 4), torch.tensor(labels, dtype=torch.long), torch.tensor(scores))


class TestMaskOverlap:
    digit = mask(".##.", ".#..", ".##.")
    elsewhere = mask("#..#", "#.##", "#..#")
    empty = mask("....", "....", "....")

    @pytest.mark.parametrize("metric", [dice, iou])
    def test_identical_masks_score_one(self, metric) -> None:
        assert metric(self.digit, self.digit).tolist() == [1.0]

    @pytest.mark.parametrize("metric", [dice, iou])
    def test_disjoint_masks_score_zero(self, metric) -> None:
        assert metric(self.digit, self.elsewhere).tolist() == [0.0]

    @pytest.mark.parametrize("metric", [dice, iou])
    def test_two_empty_masks_agree(self, metric) -> None:
        assert metric(self.empty, self.empty).tolist() == [1.0]

    @pytest.mark.parametrize("metric", [dice, iou])
    def test_one_empty_mask_scores_zero(self, metric) -> None:
        assert metric(self.empty, self.digit).tolist() == [0.0]
        assert metric(self.digit, self.empty).tolist() == [0.0]

    def test_partial_overlap(self) -> None:
        predicted = mask("###.")
        target = mask(".###")  # 2 pixels shared, 3 + 3 drawn, 4 in the union
        assert dice(predicted, target).item() == pytest.approx(2 * 2 / 6)
        assert iou(predicted, target).item() == pytest.approx(2 / 4)

    def test_one_score_per_image_of_a_batch(self) -> None:
        predicted = torch.stack([self.digit, self.digit, self.empty])
        target = torch.stack([self.digit, self.elsewhere, self.empty])
        assert dice(predicted, target).tolist() == [1.0, 0.0, 1.0]
        assert iou(predicted, target).tolist() == [1.0, 0.0, 1.0]


class TestPairedBoxIou:
    def test_each_box_against_its_own_target(self) -> None:
        predicted = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]])
        target = torch.tensor([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 20], [5, 0, 15, 10]])
        # identical; disjoint; the prediction covers half the target; half of each box shared
        expected = [1.0, 0.0, 0.5, 50 / 150]
        assert paired_box_iou(predicted, target).tolist() == pytest.approx(expected)

    def test_no_boxes(self) -> None:
        assert paired_box_iou(torch.zeros(0, 4), torch.zeros(0, 4)).shape == (0,)


class TestAveragePrecision:
    def test_perfect_detections_score_one(self) -> None:
        ground_truth = [truth([[0, 0, 10, 10], [30, 30, 50, 60]], [3, 7]), truth([[5, 5, 25, 35]], [3])]
        predictions = [
            found([[0, 0, 10, 10], [30, 30, 50, 60]], [3, 7], [0.9, 0.8]),
            found([[5, 5, 25, 35]], [3], [0.7]),
        ]
        for threshold in (0.5, 0.75, 0.95):
            assert average_precision(predictions, ground_truth, threshold) == pytest.approx(1.0)

    def test_a_loose_box_counts_only_below_its_iou(self) -> None:
        ground_truth = [truth([[0, 0, 10, 10]], [4])]
        predictions = [found([[0, 0, 10, 15]], [4], [0.9])]  # IoU 100 / 150 = 0.67
        assert average_precision(predictions, ground_truth, 0.75) == 0.0
        assert average_precision(predictions, ground_truth, 0.5) == pytest.approx(1.0)

    def test_the_right_box_with_the_wrong_label_does_not_count(self) -> None:
        ground_truth = [truth([[0, 0, 10, 10]], [4])]
        predictions = [found([[0, 0, 10, 10]], [9], [0.9])]
        assert average_precision(predictions, ground_truth, 0.5) == 0.0

    def test_false_positive_ranked_first_halves_precision(self) -> None:
        ground_truth = [truth([[0, 0, 10, 10]], [2])]
        false_first = [found([[50, 50, 60, 60], [0, 0, 10, 10]], [2, 2], [0.9, 0.8])]
        true_first = [found([[50, 50, 60, 60], [0, 0, 10, 10]], [2, 2], [0.8, 0.9])]
        # ranks: miss, hit -> precision 0, 1/2 at recall 0, 1: every recall point reads 1/2
        assert average_precision(false_first, ground_truth, 0.5) == pytest.approx(0.5)
        assert average_precision(true_first, ground_truth, 0.5) == pytest.approx(1.0)

    def test_interpolated_precision_envelope(self) -> None:
        ground_truth = [truth([[0, 0, 10, 10]], [5]), truth([[20, 20, 40, 40]], [5])]
        predictions = [
            found([[0, 0, 10, 10], [60, 60, 70, 70]], [5, 5], [0.9, 0.8]),
            found([[20, 20, 40, 40]], [5], [0.7]),
        ]
        # ranks: hit, miss, hit -> precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
        # Recall points 0.00..0.50 (51 of them) read 1, points 0.51..1.00 (50) read 2/3.
        expected = (51 * 1.0 + 50 * 2 / 3) / 101
        assert average_precision(predictions, ground_truth, 0.5) == pytest.approx(expected, abs=1e-6)

    def test_missed_digits_lower_recall(self) -> None:
        ground_truth = [truth([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 1])]
        predictions = [found([[0, 0, 10, 10]], [1], [0.9])]
        # recall stops at 1/2: points 0.00..0.50 read precision 1, the other 50 read 0
        assert average_precision(predictions, ground_truth, 0.5) == pytest.approx(51 / 101, abs=1e-6)

    def test_a_class_never_detected_pulls_the_mean_down(self) -> None:
        ground_truth = [truth([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 8])]
        predictions = [found([[0, 0, 10, 10]], [1], [0.9])]
        assert average_precision(predictions, ground_truth, 0.5) == pytest.approx(0.5)


class TestInkBoxes:
    def test_box_is_exclusive_at_the_far_edges(self) -> None:
        digit = mask(
            "......",
            "..#...",
            ".###..",
            "...#..",
            "......",
        )
        assert ink_boxes(digit[None]).tolist() == [[1.0, 1.0, 4.0, 4.0]]

    def test_one_box_per_mask_and_zeros_when_empty(self) -> None:
        masks = torch.stack([mask("#...", "....", "...."), mask("....", "....", "...."), mask("....", "....", "...#")])
        assert ink_boxes(masks).tolist() == [[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0], [3.0, 2.0, 4.0, 3.0]]


def test_share_inside_is_the_part_of_each_box_within_each_container() -> None:
    boxes = torch.tensor([[0.0, 0, 10, 10], [5.0, 0, 15, 10]])
    containers = torch.tensor([[0.0, 0, 10, 10], [-5.0, -5, 30, 30]])
    assert share_inside(boxes, containers).tolist() == [[1.0, 1.0], [0.5, 1.0]]
    assert share_inside(containers, boxes)[1].tolist() == pytest.approx([100 / 1225, 100 / 1225])
