"""How the models see a digit, for people learning how it works: the steps from the person's ink
to the 28x28 view the classifier read, and where the classifier looked (occlusion sensitivity)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import CenteredNorm
from matplotlib.figure import Figure
from PIL import Image
from scipy import ndimage

from mnist_demo.constants import IMAGE_SIZE, NUM_CLASSES
from mnist_demo.data import normalise
from mnist_demo.prediction import Prediction
from mnist_demo.preprocessing import ImageSource, Ink, mask_box, to_ink

# Occlusion: a square of this many view pixels (about two MNIST strokes wide) is blanked at every
# OCCLUSION_STRIDE pixels, 13x13 positions over the 28x28 view.
OCCLUSION_PATCH = 4
OCCLUSION_STRIDE = 2
OCCLUSIONS = ((IMAGE_SIZE - OCCLUSION_PATCH) // OCCLUSION_STRIDE + 1) ** 2
# The ink's outline drawn over the saliency map: where the view is half ink.
OUTLINE_LEVEL = 0.5
SALIENCY_COLOURS = "RdBu_r"  # red: covering it lowers the answer's probability; blue: raises it

Classifier = Callable[[torch.Tensor], torch.Tensor]  # (B, 1, 28, 28) normalised -> (B, classes) logits


# The panel's words for learners, above its pictures.
HOW_IT_WORKS = """
**Three models read your picture.**
- The **detector** looks at the whole picture, shrunk to 96 pixels high, and finds *where* the digits
  are: it marks each digit's centre and size, then takes a second look inside each box and names the
  digit (its own guess, in the readouts' "detector" column).
- The **classifier** reads one digit at a time and gives ten probabilities, one per digit (or says
  "not a digit"). It sees each digit the way the MNIST digits it learnt from were prepared (below).
- The **U-Net** paints which pixels of your picture are ink (orange). It looks at a small copy of
  the whole picture, 64 pixels high, and decides for every place how dark a pixel there must be to
  count as ink: on a clean drawing, any ink at all; on a photo, dark enough to stand out from its
  blur, noise and specks. That level is then applied to every pixel of your own picture, so the
  mask follows your strokes at their full resolution.

**Why a 28x28 frame?** MNIST, the 70,000 handwritten digits the models learnt from, prepared every
digit the same way: the ink cropped, scaled so that its longest side is 20 pixels (shape kept), and
placed in a black 28x28 frame so that its centre of mass (the average position of its ink, the
orange +) sits in the middle. A model reads well what looks like what it learnt from, so your digit
goes through the same steps, shown below.

**Where the classifier looked.** A small 4x4 black square covers the 28x28 picture at each place in
turn, and the app measures how much the answer's probability falls (*occlusion sensitivity*). Red:
covering it lowers the probability, so the classifier relied on it; blue: covering it raises it;
white: it made no difference.

**The readouts.** Your drawing comes with no answer key, so the app makes one: every pixel with any
ink is ink (the *thresholded input*), on your picture's own pixels. **Dice** = 2 x (pixels in both
the U-Net's mask and the true ink) / (pixels in the mask + pixels in the true ink); **IoU**
(intersection over union) = pixels in both / pixels in either. Both are 1 for a perfect match and 0
for none; IoU is the stricter (IoU 0.5 is Dice 0.67). Each digit's row counts the pixels inside its
box, the last row all of the picture. **Box IoU** is the IoU of the detector's box and the box
around the true ink.
"""


@dataclass(frozen=True)
class DigitExplanation:
    """One digit's way from the person's ink to the classifier's answer, step by step."""

    label: int  # the classifier's answer
    confidence: float  # its probability
    ink: np.ndarray  # (h, w) float32 0..1, white on black: the input's ink inside the digit's box
    scaled: np.ndarray  # (h', w') float32 0..1: that ink scaled so its longest side is 20 px
    view: np.ndarray  # (28, 28) float32 0..1: `scaled` centred by mass, what the classifier read
    centre_of_mass: tuple[float, float]  # (x, y) of the view's ink, in view pixels
    saliency: np.ndarray  # (28, 28) float32: how much P(label) falls when the pixel's surroundings are blanked


def ink_crop(ink: Ink, box: tuple[int, int, int, int]) -> np.ndarray:
    """Step 1: the input's ink (white on black, 0..1, as the pipeline reads it) inside `box`."""
    x0, y0, x1, y1 = box
    return np.asarray(ink.values[y0:y1, x0:x1], dtype=np.float32) / np.float32(ink.full)


def scaled_digit(view: np.ndarray) -> np.ndarray:
    """Step 2: the digit scaled to a longest side of 20 px, as the 28x28 view holds it. The view is
    that picture pasted on black, so its non-black box gives it back exactly."""
    x0, y0, x1, y1 = mask_box(view > 0) or (0, 0, 0, 0)
    return view[y0:y1, x0:x1]


def occlusion_saliency(classifier: Classifier, views: np.ndarray, labels: Sequence[int],
                       device: torch.device | str = "cpu") -> np.ndarray:
    """(K, 28, 28) views -> (K, 28, 28) saliency: the fall in each view's P(label) when an
    OCCLUSION_PATCH square around a pixel is blanked, averaged over the squares covering it.

    Captum's Occlusion slides the square and averages; all K x OCCLUSIONS occluded copies go to
    the classifier in one call. The probabilities are those of the ten digits, as the app shows them.
    """
    # Imported here: captum takes 0.7 s to import, which the app's start should not pay for a panel
    # that most visitors never open.
    from captum.attr import Occlusion

    def digit_probabilities(batch: torch.Tensor) -> torch.Tensor:  # (B, 1, 28, 28) 0..1 -> (B, 10)
        return torch.softmax(classifier(normalise(batch)).float()[:, :NUM_CLASSES], dim=1)

    inputs = torch.from_numpy(np.ascontiguousarray(views, dtype=np.float32))[:, None].to(device)
    with torch.inference_mode():
        saliency = Occlusion(digit_probabilities).attribute(
            inputs, sliding_window_shapes=(1, OCCLUSION_PATCH, OCCLUSION_PATCH),
            strides=(1, OCCLUSION_STRIDE, OCCLUSION_STRIDE), baselines=0.0,
            target=torch.tensor(list(labels), device=inputs.device), perturbations_per_eval=OCCLUSIONS)
    return saliency[:, 0].float().cpu().numpy()


def explain_prediction(image: ImageSource, prediction: Prediction, classifier: Classifier,
                       device: torch.device | str = "cpu") -> tuple[DigitExplanation, ...]:
    """Every digit of `prediction` (read from `image`), left to right, explained; () when none was read.

    >>> predictor = load_predictor(device="cpu")
    >>> prediction = predictor.predict("examples/drawn_3.png")
    >>> (three,) = explain_prediction("examples/drawn_3.png", prediction, predictor.classifier)
    >>> three.view.shape, three.saliency.shape
    ((28, 28), (28, 28))
    """
    if not prediction.digits:
        return ()
    ink = to_ink(image)
    views = np.stack([reading.digit for reading in prediction.digits])
    saliency = occlusion_saliency(classifier, views, [reading.label for reading in prediction.digits], device)
    explanations = []
    for reading, view, looked in zip(prediction.digits, views, saliency, strict=True):
        centre_y, centre_x = ndimage.center_of_mass(view)
        explanations.append(DigitExplanation(
            label=reading.label, confidence=reading.confidence, ink=ink_crop(ink, reading.box),
            scaled=scaled_digit(view), view=view, centre_of_mass=(float(centre_x), float(centre_y)),
            saliency=looked))
    return tuple(explanations)


def explanation_figure(explanation: DigitExplanation) -> Figure:
    """The three steps and the saliency map, two by two, the map with a colour bar as its legend.

    A bare matplotlib Figure, not pyplot: no global state, so requests can draw at the same time.
    """
    figure = Figure(figsize=(5.6, 5.4), dpi=100, layout="constrained")
    (ink_axes, scaled_axes), (view_axes, looked) = figure.subplots(2, 2)
    ink_axes.imshow(explanation.ink, cmap="gray", vmin=0, vmax=1)
    ink_axes.set_title("1. Your ink, cropped", fontsize=10)
    scaled_axes.imshow(explanation.scaled, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    height, width = explanation.scaled.shape
    scaled_axes.set_title(f"2. Scaled to {width}x{height} px", fontsize=10)
    view_axes.imshow(explanation.view, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    view_axes.plot(*explanation.centre_of_mass, marker="+", color="#f97316", markersize=12, markeredgewidth=2)
    view_axes.set_title(f"3. Centred by mass, {IMAGE_SIZE}x{IMAGE_SIZE}", fontsize=10)
    strongest = max(float(np.abs(explanation.saliency).max()), 1e-3)
    heat = looked.imshow(explanation.saliency, cmap=SALIENCY_COLOURS, norm=CenteredNorm(0.0, strongest),
                         interpolation="nearest")
    looked.contour(explanation.view, levels=[OUTLINE_LEVEL], colors="black", linewidths=0.8)
    looked.set_title("4. Where it looked", fontsize=10)
    legend = figure.colorbar(heat, ax=looked, fraction=0.08)
    legend.set_label(f'fall in P("{explanation.label}")\nwhen covered', fontsize=8)
    legend.ax.tick_params(labelsize=7)
    for axes in (ink_axes, scaled_axes, view_axes, looked):
        axes.set_xticks([])
        axes.set_yticks([])
    figure.suptitle(f"Read as {explanation.label} ({explanation.confidence:.0%})", fontsize=11)
    return figure


def figure_picture(figure: Figure) -> Image.Image:
    """A figure rendered to an RGB picture (matplotlib's Agg canvas, at the figure's dpi)."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")


def explanation_picture(explanation: DigitExplanation) -> Image.Image:
    """`explanation_figure` as a picture for the page."""
    return figure_picture(explanation_figure(explanation))
