"""The speed benchmarks' floor: this app's own page (same components, queue and upload path)
answering one fixed, precomputed result, so what it costs is Gradio alone. An emptied canvas
(cleared, last stroke undone) still empties the outputs, as the app does, so a page that
clears between drawings sees its outputs change on every answer.

    python -m benchmarks.echo_app --port 7861 --image some.png
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from mnist_demo.inference import load_predictor  # noqa: E402
from mnist_demo.preprocessing import ImageSource, ink_box, to_ink  # noqa: E402
from mnist_demo.ui import MAX_UPLOAD, NO_INPUT, Outputs, build_demo, make_handler, no_reading  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--image", required=True, help="the picture whose real answer is echoed")
    args = parser.parse_args()
    fixed = make_handler(load_predictor(device="cpu"))(args.image)  # outputs of the same sizes as the app's

    def echo(image: ImageSource | None) -> Outputs:
        if image is None or isinstance(image, dict) and ink_box(to_ink(image).values) is None:
            return no_reading(NO_INPUT)
        return fixed

    build_demo(None, handler=echo).launch(server_port=args.port, max_file_size=MAX_UPLOAD)


if __name__ == "__main__":
    main()
