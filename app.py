"""Draw-a-digit demo: `python app.py` serves it on http://127.0.0.1:7860 (also the Hugging Face
Space entry point). Host and port: --host/--port or GRADIO_SERVER_NAME/GRADIO_SERVER_PORT;
weights folder and device: MNIST_DEMO_WEIGHTS (default weights/) and MNIST_DEMO_DEVICE (default auto)."""

import argparse
import os
import sys
from concurrent.futures import Future

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls: set before Gradio loads

import torch  # noqa: E402

from mnist_demo.checkpoints import CheckpointError  # noqa: E402
from mnist_demo.inference import Predictor, load_predictor  # noqa: E402
from mnist_demo.ui import MAX_UPLOAD, SERVING_CONCURRENCY, build_demo  # noqa: E402

# The cores shared out between requests (torch's and ONNX Runtime's threads): the queue runs
# SERVING_CONCURRENCY requests side by side.
THREADS = max(1, (os.cpu_count() or 1) // SERVING_CONCURRENCY)
torch.set_num_threads(THREADS)

predictor: Future[Predictor] = Future()
demo = build_demo(predictor)


def load_models() -> None:
    """The predictor behind `demo`, from the checkpoints (their SHA256 checked; CheckpointError if they are bad)."""
    predictor.set_result(load_predictor(os.environ.get("MNIST_DEMO_WEIGHTS"),
                                        device=os.environ.get("MNIST_DEMO_DEVICE", "auto"), threads=THREADS))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=None, help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 7860)")
    args = parser.parse_args()
    # The page answers first and the models load behind it (checkpoints, ONNX export: about a
    # second of the start), so the first request, not the page, waits for them.
    demo.launch(server_name=args.host, server_port=args.port, max_file_size=MAX_UPLOAD, prevent_thread_lock=True)
    try:
        load_models()
    except CheckpointError as error:
        demo.close()
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    demo.block_thread()
else:  # imported (`gradio app.py`, the tests): the models load now
    load_models()
