"""How the models see it: the steps from the ink to the 28x28 view, the occlusion saliency, the
picture with its colour legend, and the page's handler, which runs only when asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from benchmarks.synthetic import as_sketchpad
from mnist_demo.constants import DIGIT_BOX_SIZE, IMAGE_SIZE
from mnist_demo.explain import (
    DigitExplanation,
    explain_prediction,
    explanation_figure,
    explanation_picture,
)
from mnist_demo.inference import Predictor
from mnist_demo.preprocessing import to_ink
from mnist_demo.ui import CANVAS_SIZE, NOTHING_TO_EXPLAIN, UPLOAD_GONE, build_demo, make_explainer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def drawn_three() -> dict:
    """examples/drawn_3.png's ink as the Sketchpad sends a drawing."""
    return as_sketchpad((to_ink(EXAMPLES / "drawn_3.png").values * 255).astype(np.uint8))


@pytest.fixture(scope="module")
def explained(predictor: Predictor) -> tuple[DigitExplanation, ...]:
    """The three digits of examples/number_427.png, explained."""
    image = EXAMPLES / "number_427.png"
    return explain_prediction(image, predictor.predict(image), predictor.classifier, predictor.device)


@pytest.mark.parametrize("name", ["drawn_3.png", "number_427.png", "photo_2.jpg"])
def test_the_steps_lead_to_the_view_the_classifier_read(predictor: Predictor, name: str) -> None:
    image = EXAMPLES / name
    prediction = predictor.predict(image)
    explanations = explain_prediction(image, prediction, predictor.classifier, predictor.device)
    assert [explanation.label for explanation in explanations] == [int(digit) for digit in prediction.number]
    for reading, explanation in zip(prediction.digits, explanations, strict=True):
        x0, y0, x1, y1 = reading.box
        assert explanation.ink.shape == (y1 - y0, x1 - x0)  # step 1: the ink inside the digit's box...
        assert explanation.ink.max() > 0.5  # ...which holds ink
        assert max(explanation.scaled.shape) == DIGIT_BOX_SIZE  # step 2: longest side 20 px
        assert np.array_equal(explanation.view, reading.digit)  # step 3: exactly what the classifier read
        centre_x, centre_y = explanation.centre_of_mass
        assert abs(centre_x - IMAGE_SIZE / 2) <= 0.5 and abs(centre_y - IMAGE_SIZE / 2) <= 0.5  # MNIST's centre


def test_the_classifier_looks_at_the_ink_not_the_empty_border(explained: tuple[DigitExplanation, ...]) -> None:
    for explanation in explained:
        inked = explanation.view > 0.5
        # pixels so far from any ink that no occluding patch over them covers ink: covering them changes nothing
        far = ndimage.distance_transform_edt(explanation.view == 0) > 4.5
        assert far.any()
        assert np.abs(explanation.saliency[far]).max() < 1e-4
        assert explanation.saliency[inked].mean() > 0.01  # covering the strokes lowers the answer's probability
        strongest = np.unravel_index(np.argmax(explanation.saliency), explanation.saliency.shape)
        assert ndimage.distance_transform_edt(~inked)[strongest] <= 3  # the strongest spot is on or by a stroke


def test_the_picture_shows_four_panels_and_a_colour_legend(explained: tuple[DigitExplanation, ...]) -> None:
    four = explained[0]
    figure = explanation_figure(four)
    *panels, legend = figure.axes
    assert [axes.get_title()[:2] for axes in panels] == ["1.", "2.", "3.", "4."]
    assert 'P("4")' in legend.get_ylabel()
    low, high = legend.get_ylim()
    assert low == -high and high >= four.saliency.max()  # centred on "no effect", and nothing off the scale
    assert panels[1].get_title() == f"2. Scaled to {four.scaled.shape[1]}x{four.scaled.shape[0]} px"
    picture = explanation_picture(four)
    assert picture.mode == "RGB" and min(picture.size) >= 400
    assert len(np.unique(np.asarray(picture).reshape(-1, 3), axis=0)) > 50  # drawn, not blank


def test_the_page_handler_gives_a_picture_per_digit(predictor: Predictor, explained: tuple[DigitExplanation, ...],
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    explain = make_explainer(predictor)
    upload = tmp_path / "number.png"
    upload.write_bytes((EXAMPLES / "number_427.png").read_bytes())
    pictures, note = explain(str(upload), drawn_three())  # the upload was read last: it is explained
    assert [caption.split(" (")[0] for _, caption in pictures] == [
        "Digit 1: read as 4", "Digit 2: read as 2", "Digit 3: read as 7"]
    assert all(Image.open(path).size == explanation_picture(explained[0]).size for path, _ in pictures)
    assert all(Path(path).parent == tmp_path for path, _ in pictures)  # in Gradio's cache, deleted with it
    (three,), _ = explain(None, drawn_three())  # the drawing was read last
    assert three[1].startswith("Digit 1: read as 3")
    assert note.startswith("One picture per digit")


def test_the_page_handler_gives_nothing_for_a_blank_canvas_or_a_bad_upload(predictor: Predictor,
                                                                            tmp_path: Path) -> None:
    explain = make_explainer(predictor)
    cleared = np.zeros((CANVAS_SIZE[1], CANVAS_SIZE[0], 4), dtype=np.uint8)
    assert explain(None, {"background": cleared, "layers": [cleared], "composite": cleared}) == (
        [], NOTHING_TO_EXPLAIN)
    assert explain(None, None) == ([], NOTHING_TO_EXPLAIN)
    assert explain(str(tmp_path / "deleted.png"), None) == ([], UPLOAD_GONE)
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    pictures, note = explain(str(text), None)
    assert not pictures and note.startswith("notes.png is not an image this app can read")


def test_explanations_are_computed_only_when_asked_for(predictor: Predictor) -> None:
    """Only the panel's opening and its button run the explainer; reading a picture never does."""
    demo = build_demo(predictor)
    triggers = sorted((demo.blocks[block_id].__class__.__name__, event)
                      for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") == "explain"
                      for block_id, event in fn.targets)
    assert triggers == [("Accordion", "expand"), ("Button", "click")]
    accordion = next(block for block in demo.blocks.values() if block.__class__.__name__ == "Accordion")
    assert accordion.label == "How the models see it" and accordion.open is False
