"""The Gradio app: draw or upload a digit; see the label, the mask and box on your own picture,
the 28x28 view the classifier read, and how the mask and box compare with the thresholded input."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr
import numpy as np

from mnist_demo.inference import Prediction, Predictor
from mnist_demo.preprocessing import ImageSource, InputError
from mnist_demo.rendering import display_rgb, enlarge_digit, render_overlay

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
# A brush about as wide, relative to a digit drawn across half the canvas, as MNIST's strokes.
BRUSH_SIZE = 28
READOUT_HEADERS = ["readout", "value"]
SERVING_CONCURRENCY = 2
MAX_QUEUE = 64
MAX_UPLOAD = "20mb"

# Gradio 6 opens the Sketchpad with no tool chosen ("select the draw tool to start"):
# choose the brush once the page has loaded, so people can draw straight away.
SELECT_BRUSH_JS = """
() => {
  const pick = () => {
    const pad = document.querySelector('#sketchpad');
    const brush = pad && pad.querySelector('button[aria-label="Brush"], button[title="Brush"]');
    if (brush) { brush.click(); return true; }
    return false;
  };
  if (!pick()) { const timer = setInterval(() => { if (pick()) clearInterval(timer); }, 200);
                 setTimeout(() => clearInterval(timer), 10000); }
}
"""

INTRO = """
# Draw a digit
Three small PyTorch models read the same input: a **classifier** names the digit, a **U-Net**
paints its ink (orange) and a **detector** boxes it (blue). The readouts compare the mask and the
box with the thresholded input.
"""


def readout_rows(prediction: Prediction, elapsed_ms: float) -> list[list[str]]:
    """The readout table: mask Dice/IoU, box IoU, both models' labels, time taken."""
    if not prediction.found:
        return [["result", prediction.message or "No digit found."], ["time", f"{elapsed_ms:.0f} ms"]]
    agree = "yes" if prediction.detector_label == prediction.label else "no"
    return [
        ["mask Dice", f"{prediction.metrics['mask_dice']:.3f}"],
        ["mask IoU", f"{prediction.metrics['mask_iou']:.3f}"],
        ["box IoU", f"{prediction.metrics['box_iou']:.3f}"],
        ["classifier", f"{prediction.label} ({prediction.confidence:.1%})"],
        ["detector", f"{prediction.detector_label} (score {prediction.detector_score:.2f})"],
        ["agree", agree],
        ["time", f"{elapsed_ms:.0f} ms"],
    ]


def make_handler(predictor: Predictor):
    """The function behind both tabs and the public `predict` endpoint."""

    def predict(image: ImageSource | None) -> tuple[dict[str, float] | None, np.ndarray | None,
                                                   np.ndarray | None, list[list[str]]]:
        if image is None:
            return None, None, None, [["result", "Draw a digit or upload a picture."]]
        start = time.perf_counter()
        try:
            prediction = predictor.predict(image)
            rgb = display_rgb(image)
        except InputError as error:
            gr.Warning(str(error))
            return None, None, None, [["result", str(error)]]
        overlay = render_overlay(rgb, prediction)
        elapsed = (time.perf_counter() - start) * 1000
        if prediction.message:
            gr.Info(prediction.message)
        label = {str(digit): p for digit, p in enumerate(prediction.probabilities)} if prediction.found else None
        return label, overlay, enlarge_digit(prediction.digit), readout_rows(prediction, elapsed)

    return predict


def uploaded_path(payload: dict | str | None) -> str | None:
    """The file behind an upload, taken before Gradio decodes it (the events use preprocess=False),
    so every picture goes through our own reader and its clear messages."""
    if payload is None or isinstance(payload, str):
        return payload
    return payload.get("path")


def build_demo(predictor: Predictor) -> gr.Blocks:
    """The whole app around a loaded predictor."""
    predict = make_handler(predictor)

    def predict_upload(payload: dict | str | None) -> tuple:
        return predict(uploaded_path(payload))
    examples = sorted(str(path) for path in EXAMPLES_DIR.glob("*.*"))
    with gr.Blocks(title="Draw a digit: classifier, U-Net and detector", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                with gr.Tabs():
                    with gr.Tab("Draw"):
                        sketchpad = gr.Sketchpad(
                            elem_id="sketchpad", label="Draw a digit", type="numpy", image_mode="RGBA",
                            brush=gr.Brush(default_size=BRUSH_SIZE, colors=["#000000"], color_mode="fixed"),
                            layers=False, transforms=(),
                        )
                        read_drawing = gr.Button("Read my drawing", variant="primary")
                    with gr.Tab("Upload"):
                        upload = gr.Image(elem_id="upload", label="Upload or paste a picture of a digit",
                                          type="filepath", image_mode=None, sources=["upload", "clipboard"])
                        read_upload = gr.Button("Read this picture", variant="primary")
                        if examples:
                            gr.Examples(examples=examples, inputs=upload, label="Examples")
            with gr.Column(scale=1):
                label = gr.Label(elem_id="label", num_top_classes=3, label="Classifier")
                overlay = gr.Image(elem_id="overlay", label="Your picture: U-Net mask and detector box",
                                   type="numpy", format="jpeg", interactive=False)
                with gr.Row():
                    digit = gr.Image(elem_id="digit", label="What the classifier saw (28x28)", type="numpy",
                                     format="png", interactive=False, height=200)
                    readouts = gr.Dataframe(elem_id="readouts", headers=READOUT_HEADERS, interactive=False,
                                            label="Readouts: U-Net mask and detector box vs the thresholded input",
                                            column_widths=["50%", "50%"])
        outputs = [label, overlay, digit, readouts]
        sketchpad.change(predict, sketchpad, outputs, api_name="predict_sketch", trigger_mode="always_last",
                         show_progress="hidden")
        read_drawing.click(predict, sketchpad, outputs, api_name="read_drawing", api_visibility="private")
        upload.change(predict_upload, upload, outputs, api_name="predict", show_progress="minimal", preprocess=False)
        read_upload.click(predict_upload, upload, outputs, api_name="read_upload", api_visibility="private",
                          preprocess=False)
        demo.load(None, js=SELECT_BRUSH_JS)
    # Sized for a 2-vCPU CPU Space: two requests run at once, one per core (torch uses one thread
    # each, see app.py), because oversubscribed cores slow every request down many times over.
    # Up to 64 more wait; past that Gradio answers "queue full, try again" instead of piling up.
    demo.queue(default_concurrency_limit=SERVING_CONCURRENCY, max_size=MAX_QUEUE)
    return demo
