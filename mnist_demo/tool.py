"""The app's one MCP tool, `read_number`: a picture in (a URL or a data: URL), the number, its
digits and the readouts out, as JSON. Also a public endpoint for gradio_client."""

from __future__ import annotations

import json
from collections.abc import Callable

import gradio as gr
from gradio.data_classes import FileData

from mnist_demo.inference import Predictor
from mnist_demo.prediction import Prediction
from mnist_demo.preprocessing import InputError, open_image


def reading_record(prediction: Prediction) -> dict:
    """What `read_number` answers: the number, and per digit the label, confidence, box and readouts."""
    return {
        "number": prediction.number,
        "digits": [{"label": reading.label, "confidence": round(reading.confidence, 4), "box": list(reading.box),
                    "detector_label": reading.detector_label, "detector_score": reading.detector_score,
                    "mask_dice": reading.mask_dice, "mask_iou": reading.mask_iou, "box_iou": reading.box_iou}
                   for reading in prediction.digits],
        "picture": prediction.metrics,  # mask_dice, mask_iou over the whole picture; box_iou, the digits' mean
        "message": prediction.message,
    }


def make_reader(predictor: Predictor) -> Callable[[FileData], str]:
    """The `read_number` endpoint, the app's one MCP tool (Gradio takes its description from the docstring)."""

    def read_number(image: FileData) -> str:
        """Read the handwritten digits in a picture, left to right, with three small PyTorch models.

        Args:
            image: the picture (PNG, JPEG, WebP, BMP or GIF) as an http(s) URL or a base64 data: URL.

        Returns:
            JSON text: "number" (the digits read, e.g. "427"; "" when none), "digits" (per digit: "label",
            "confidence", "box" [x0, y0, x1, y1] in the picture's pixels, the detector's own "detector_label"
            and "detector_score", and "mask_dice", "mask_iou", "box_iou": the U-Net's mask and the detector's
            box against the thresholded picture, 1 = perfect), "picture" (the same readouts for the whole
            picture) and "message" (why nothing was read, or null).
        """
        # The file is already in Gradio's cache, handed over as a plain dict (gr.api does no preprocessing).
        # A URL the caller gives here is the only thing this app ever fetches at run time: Gradio
        # downloads it before this runs, from public hosts only.
        path = FileData.model_validate(image).path
        try:
            prediction = predictor.predict(open_image(path))
        except InputError as error:
            raise gr.Error(str(error), print_exception=False) from None
        return json.dumps(reading_record(prediction))

    return read_number
