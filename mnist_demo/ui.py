"""The Gradio app: draw or upload a digit; see the label, the mask and box on your own picture,
the 28x28 view the classifier read, and how the mask and box compare with the thresholded input;
on request, how the models see each digit. As an MCP server it offers one tool, `read_number`."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np
from gradio.utils import get_upload_folder
from PIL import Image

from mnist_demo.explain import HOW_IT_WORKS, explain_prediction, explanation_picture
from mnist_demo.inference import BLANK, Predictor
from mnist_demo.prediction import Prediction
from mnist_demo.preprocessing import ImageSource, InputError, open_image
from mnist_demo.rendering import display_image, enlarge_digits, render_overlay
from mnist_demo.tool import make_reader

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
# Wide enough to write a four-digit number; the height of one digit drawn large.
CANVAS_SIZE = (1200, 480)
# A brush about as wide, relative to a digit drawn across most of the canvas's height, as MNIST's strokes.
BRUSH_SIZE = 28
READOUT_HEADERS = ["digit", "classifier", "detector", "mask Dice", "mask IoU", "box IoU"]
WHOLE_PICTURE = "all"  # the readouts' last row: the whole picture
# What the readouts compare, said under them.
READOUTS_SAY = ("**mask Dice / IoU**: the U-Net's orange mask against your picture's thresholded ink (every "
                "pixel with any ink), pixel by pixel at your picture's own resolution, inside each digit's box; "
                "the last row over the whole picture. **box IoU**: the detector's box against the box around "
                "the digit's thresholded ink (last row: their mean).")
SERVING_CONCURRENCY = 2
MAX_QUEUE = 64
MAX_UPLOAD = "20mb"
NO_INPUT = "Draw a digit or a number, or upload a picture."
# Serving writes only to Gradio's temp folder ($GRADIO_TEMP_DIR, else <tmp>/gradio): uploads and
# the rendered images. Each file is deleted this many seconds after it was written (checked every
# half of that), and what is left when the server shuts down.
CACHE_SECONDS = int(os.environ.get("MNIST_DEMO_CACHE_SECONDS", "300"))

# Gradio 6.31 labels the editor's buttons in the reader's language (aria-label "Pincel" in a Spanish
# browser), so the page finds the two it needs by their place, which is the same in every language.
BRUSH_BUTTON = "#sketchpad .toolbar-wrap button"  # the first of: Brush, Erase | Color, Size
BRUSH_BUTTON_JS = f"document.querySelector('{BRUSH_BUTTON}')"
UNDO_BUTTON_JS = "document.querySelectorAll('#sketchpad .top-panel button')[3]"  # Pan, Zoom -, Zoom +, Undo, ...
# Gradio 6.31's Sketchpad opens with no tool chosen, and its "Clear canvas" drops back to none
# ("select the draw tool to start"; the next stroke draws nothing): choose the brush when the page
# loads and after every clear. Deferred with setTimeout because the editor announces the clear
# before it resets its tool; undo and redo keep the tool.
SELECT_BRUSH_JS = f"""
() => {{
  const started = Date.now();
  const pick = () => {{
    const brush = {BRUSH_BUTTON_JS};
    if (brush) brush.click();
    else if (Date.now() - started < 10000) setTimeout(pick, 200);
  }};
  setTimeout(pick);
}}
"""
# Gradio 6.31 can send a drawing after a later "Clear canvas": a stroke's request that waited for the
# one before it (trigger_mode="always_last") takes the canvas slowly (its layers are uploaded first),
# and the clear's own, empty, request overtakes it; the old reading then came back over the emptied
# canvas. Undo is disabled exactly when nothing has been drawn since the page loaded or the canvas was
# cleared, so a drawing sent then is out of date: it goes as no picture at all.
CURRENT_DRAWING_JS = f"(drawing) => ({UNDO_BUTTON_JS}?.disabled ? null : drawing)"
# The overlay panel keeps this height whatever it shows, and the picture keeps its own shape, as
# large as the panel allows (Gradio stretches the <img> element over the panel); the top padding
# keeps the panel's floating label off the picture.
OVERLAY_HEIGHT = 320
OVERLAY_MIN_WIDTH = 400  # narrower windows put the readouts below it instead of shrinking it
PAGE_CSS = """
#overlay .image-frame { padding-top: var(--size-8); box-sizing: border-box; }
#overlay img { width: auto; height: auto; max-width: 100%; max-height: 100%; }
"""

INTRO = """
# Draw a digit, or a whole number
Three small PyTorch models read the same input: a **detector** finds and boxes every digit (blue),
a **classifier** names each one, and a **U-Net** paints their ink (orange). The readouts compare
each mask and box with the thresholded input.
"""

NOTHING_TO_EXPLAIN = "Nothing read yet: draw a digit or upload a picture, then press the button."
UPLOAD_GONE = "The uploaded picture is no longer on the server: upload it again."


def readout_rows(prediction: Prediction) -> list[list[str]]:
    """One row per digit, left to right: both models' answers, mask Dice/IoU in its box and box
    IoU; then the whole picture's mask Dice/IoU (and the digits' mean box IoU)."""
    if not prediction.digits:
        return []
    rows = [
        [str(position), f"{reading.label} ({reading.confidence:.1%})",
         f"{reading.detector_label} (score {reading.detector_score:.2f})",
         f"{reading.mask_dice:.3f}", f"{reading.mask_iou:.3f}", f"{reading.box_iou:.3f}"]
        for position, reading in enumerate(prediction.digits, start=1)
    ]
    whole = prediction.metrics
    return [*rows, [WHOLE_PICTURE, prediction.number, "", f"{whole['mask_dice']:.3f}", f"{whole['mask_iou']:.3f}",
                    f"{whole['box_iou']:.3f}"]]


def status_line(prediction: Prediction, elapsed_ms: float) -> str:
    """What was read and how long it took, with the predictor's note when it has one."""
    count = len(prediction.digits)
    read = f"Read {count} digit{'s' if count != 1 else ''}" if prediction.found else "No digit read"
    disagree = [str(position) for position, reading in enumerate(prediction.digits, start=1)
                if reading.detector_label != reading.label]
    parts = [f"{read} in {elapsed_ms:.0f} ms."]
    if disagree:
        parts.append(f"The detector's own class differs from the classifier's on digit {', '.join(disagree)}.")
    if prediction.message:
        parts.append(prediction.message)
    return " ".join(parts)


Outputs = tuple[str | None, dict[str, float] | None, str | None, str | None, list[list[str]], str]
# The page's events add the uploaded file they read (None: the drawing), for "How the models see it".
PageOutputs = tuple[str | None, dict[str, float] | None, str | None, str | None, list[list[str]], str, str | None]


def cached_image_file(image: Image.Image | np.ndarray, format: str) -> str:
    """An output image written to a file of its own in Gradio's cache folder; Gradio serves a
    file that is already there as it is, and deletes it with the rest after CACHE_SECONDS.

    Why not return the array: Gradio 6.31 caches array outputs under a name made from their
    content, so requests with the same result (two people sending the same example) share one
    file, rewrite it while another client downloads it (that client gets an empty body) and can
    see it deleted the moment it was handed out again. One file per request has neither race
    (benchmarks/load.py: 0 failures where the shared files gave "peer closed connection" and 403s).
    """
    folder = Path(get_upload_folder())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mnist-demo-{uuid.uuid4().hex}.{format}"  # no folder of its own: nothing left once deleted
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    picture.save(path, format=format, **({"quality": 90} if format == "jpeg" else {}))
    return str(path)


def no_reading(status: str) -> Outputs:
    """Every output emptied, with `status` in the status line."""
    return None, None, None, None, [], status


def make_handler(predictor: Predictor):
    """The function behind both tabs and the public `predict` endpoint: the number, the most
    confident digit's top classes, the overlay, what the classifier saw, the per-digit readouts
    and a status line."""

    def predict(image: ImageSource | None) -> Outputs:
        if image is None:
            return no_reading(NO_INPUT)
        start = time.perf_counter()
        try:
            if isinstance(image, (str, os.PathLike)):
                image = open_image(image)  # decoded once, for the models and for the overlay
            prediction = predictor.predict(image)
            picture = display_image(image)
        except InputError as error:
            gr.Warning(str(error))
            return no_reading(str(error))
        if isinstance(image, dict) and prediction.message == BLANK:
            return no_reading(NO_INPUT)  # an emptied canvas (cleared, last stroke undone) is no mistake to point out
        overlay = cached_image_file(render_overlay(picture, prediction), "jpeg")
        elapsed = (time.perf_counter() - start) * 1000
        if not prediction.found:
            gr.Info(prediction.message or "No digit found.")
            return None, None, overlay, None, [], status_line(prediction, elapsed)
        label = {str(digit): p for digit, p in enumerate(prediction.probabilities)}
        views = cached_image_file(enlarge_digits([reading.digit for reading in prediction.digits]), "png")
        return (prediction.number, label, overlay, views, readout_rows(prediction),
                status_line(prediction, elapsed))

    return predict


def uploaded_path(payload: dict | str | None) -> str | None:
    """The file behind an upload, taken before Gradio decodes it (the events use preprocess=False),
    so every picture goes through our own reader and its clear messages."""
    if payload is None or isinstance(payload, str):
        return payload
    return payload.get("path")


Explanations = tuple[list[tuple[str, str]], str]


def make_explainer(predictor: Predictor) -> Callable[[str | None, dict | None], Explanations]:
    """The handler behind "How the models see it": reads again what the page last read (the upload
    given, else the drawing) and returns one captioned picture per digit and a note."""

    def explain(last_upload: str | None, drawing: dict | None) -> Explanations:
        if last_upload is not None and not Path(last_upload).is_file():
            return [], UPLOAD_GONE  # Gradio deleted it after CACHE_SECONDS
        if last_upload is None and drawing is None:
            return [], NOTHING_TO_EXPLAIN
        try:
            image = open_image(last_upload) if last_upload is not None else drawing
            prediction = predictor.predict(image)
        except InputError as error:
            return [], str(error)
        explanations = explain_prediction(image, prediction, predictor.classifier, predictor.device)
        if not explanations:  # an emptied canvas has nothing to explain; another picture says why
            return [], NOTHING_TO_EXPLAIN if prediction.message in (None, BLANK) else prediction.message
        pictures = [(cached_image_file(explanation_picture(explanation), "png"),
                     f"Digit {position}: read as {explanation.label} ({explanation.confidence:.0%})")
                    for position, explanation in enumerate(explanations, start=1)]
        return pictures, "One picture per digit, left to right: the steps, then where the classifier looked."

    return explain


def build_demo(predictor: Predictor | None, handler: Callable[[ImageSource | None], Outputs] | None = None,
               mcp: bool = False) -> gr.Blocks:
    """The whole app around a loaded predictor. `handler` replaces the predictor's handler: the
    speed benchmark's echo app is this same app answering a fixed result. `mcp`: the app is also
    served as an MCP server, whose one tool is `read_number`."""
    predict = handler or make_handler(predictor)

    def predict_drawing(image: ImageSource | None) -> PageOutputs:
        return *predict(image), None

    def predict_upload(payload: dict | str | None) -> PageOutputs:
        path = uploaded_path(payload)
        return *predict(path), path

    examples = sorted(str(path) for path in EXAMPLES_DIR.glob("*.*"))
    with gr.Blocks(title="Draw a digit: classifier, U-Net and detector", analytics_enabled=False,
                   delete_cache=(max(1, CACHE_SECONDS // 2), CACHE_SECONDS)) as demo:
        # Gradio 6 takes page CSS only in launch(); carried here, the page is the same however it is launched.
        gr.HTML(f"<style>{PAGE_CSS}</style>", visible="hidden")
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Tabs():
                    with gr.Tab("Draw"):
                        sketchpad = gr.Sketchpad(
                            elem_id="sketchpad", label="Draw a digit or a number", type="numpy",
                            image_mode="RGBA", canvas_size=CANVAS_SIZE,
                            brush=gr.Brush(default_size=BRUSH_SIZE, colors=["#000000"], color_mode="fixed"),
                            layers=False, transforms=(),
                        )
                        read_drawing = gr.Button("Read my drawing", variant="primary")
                    with gr.Tab("Upload"):
                        upload = gr.Image(elem_id="upload", label="Upload or paste a picture of a digit or number",
                                          type="filepath", image_mode=None, sources=["upload", "clipboard"])
                        read_upload = gr.Button("Read this picture", variant="primary")
                        if examples:
                            gr.Examples(examples=examples, inputs=upload, label="Examples")
            with gr.Column(scale=2):
                number = gr.Label(elem_id="number", label="Number read (left to right)")
                label = gr.Label(elem_id="label", num_top_classes=3, label="Classifier: most confident digit")
                status = gr.Markdown(elem_id="status")
        with gr.Row():
            overlay = gr.Image(elem_id="overlay", label="Your picture: U-Net mask and detector boxes", type="filepath",
                               interactive=False, height=OVERLAY_HEIGHT, min_width=OVERLAY_MIN_WIDTH)
            with gr.Column():
                readouts = gr.Dataframe(elem_id="readouts", headers=READOUT_HEADERS, interactive=False,
                                        label="Per digit, left to right, and for the whole picture: U-Net mask "
                                              "and detector box vs the thresholded input")
                gr.Markdown(READOUTS_SAY, elem_id="readouts-say")
                digit = gr.Image(elem_id="digit", label="What the classifier saw (28x28 each)", type="filepath",
                                 interactive=False, height=160)
        # Computed only when asked for (the panel opened, the button pressed), so reading stays as fast.
        with gr.Accordion("How the models see it", open=False, elem_id="how-it-works") as how_it_works:
            gr.Markdown(HOW_IT_WORKS)
            show_steps = gr.Button("Show the steps for what was read")
            explanation_note = gr.Markdown(elem_id="explanation-note")
            explanations = gr.Gallery(elem_id="explanations", label="How the models saw each digit", show_label=False,
                                      columns=3, height="auto", object_fit="contain", interactive=False)
        last_upload = gr.State(None)
        outputs = [number, label, overlay, digit, readouts, status, last_upload]
        # Gradio lists every public endpoint as an MCP tool: as an MCP server the app lists only
        # read_number, and the page's endpoints stay callable by name (gradio_client's /predict).
        page_api = "undocumented" if mcp else "public"
        sketchpad.change(predict_drawing, sketchpad, outputs, api_name="predict_sketch", trigger_mode="always_last",
                         show_progress="hidden", api_visibility=page_api, js=CURRENT_DRAWING_JS)
        read_drawing.click(predict_drawing, sketchpad, outputs, api_name="read_drawing", api_visibility="private",
                           js=CURRENT_DRAWING_JS)
        upload.change(predict_upload, upload, outputs, api_name="predict", show_progress="minimal", preprocess=False,
                      api_visibility=page_api)
        read_upload.click(predict_upload, upload, outputs, api_name="read_upload", api_visibility="private",
                          preprocess=False)
        if predictor is not None:  # the echo app has no models to explain or read with
            explain = make_explainer(predictor)
            how_it_works.expand(explain, [last_upload, sketchpad], [explanations, explanation_note],
                                api_visibility="private")
            show_steps.click(explain, [last_upload, sketchpad], [explanations, explanation_note],
                             api_visibility="private")
            gr.api(make_reader(predictor), api_name="read_number")
        sketchpad.clear(None, js=SELECT_BRUSH_JS)
        demo.load(None, js=SELECT_BRUSH_JS)
    # Sized for a 2-vCPU CPU Space: two requests run at once, one per core (torch uses one thread
    # each, see app.py), because oversubscribed cores slow every request down many times over.
    # Measured with a class of 30 drawing live on 2 cores (benchmarks/load.py --live, 0 failures in
    # each run; p95 stroke to answer): one at a time 0.81 s, two 0.40 s, four 0.41 s; batch=True (up
    # to 8, the handler looping over them) 0.42-0.44 s at one, 0.48-0.88 s at two. The models are
    # ~5 ms of the ~55 ms of server CPU a stroke costs; the rest is Gradio's (three PNG uploads
    # decoded, outputs written and fetched), which a batch does not share, so there is no batching.
    # Up to 64 more wait; past that Gradio answers "queue full, try again" instead of piling up.
    demo.queue(default_concurrency_limit=SERVING_CONCURRENCY, max_size=MAX_QUEUE)
    return demo
