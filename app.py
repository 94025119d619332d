"""Draw-a-digit demo: `python app.py` serves it on http://127.0.0.1:7860 (also the Hugging Face
Space entry point). Host and port: --host/--port or GRADIO_SERVER_NAME/GRADIO_SERVER_PORT;
weights folder and device: MNIST_DEMO_WEIGHTS (default weights/) and MNIST_DEMO_DEVICE (default auto).
--mcp (or MNIST_DEMO_MCP=1, or Gradio's GRADIO_MCP_SERVER=true) also serves it as an MCP server at
/gradio_api/mcp/, with one tool: read_number."""

import argparse
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls: set before Gradio loads

import torch  # noqa: E402

from mnist_demo.checkpoints import CheckpointError  # noqa: E402
from mnist_demo.inference import load_predictor  # noqa: E402
from mnist_demo.ui import MAX_UPLOAD, SERVING_CONCURRENCY, build_demo  # noqa: E402

# The cores shared out between requests (torch's and ONNX Runtime's threads): the queue runs
# SERVING_CONCURRENCY requests side by side.
THREADS = max(1, (os.cpu_count() or 1) // SERVING_CONCURRENCY)
torch.set_num_threads(THREADS)

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--host", default=None, help="interface to listen on (default 127.0.0.1)")
parser.add_argument("--port", type=int, default=None, help="port (default 7860)")
parser.add_argument("--mcp", action="store_true", help="also serve the app as an MCP server (default off)")
# Parsed before the demo is built, since MCP mode changes which endpoints it lists; unknown
# arguments are left to whatever else runs this file.
args, _ = parser.parse_known_args()
MCP = (args.mcp or os.environ.get("MNIST_DEMO_MCP") == "1"
       or os.environ.get("GRADIO_MCP_SERVER", "").lower() == "true")

try:
    predictor = load_predictor(os.environ.get("MNIST_DEMO_WEIGHTS"), device=os.environ.get("MNIST_DEMO_DEVICE", "auto"),
                               threads=THREADS)
except CheckpointError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)

demo = build_demo(predictor, mcp=MCP)

if __name__ == "__main__":
    # show_error for MCP: Gradio fetches a URL given to read_number before the tool runs, and without
    # show_error tells the agent only that something failed, not why (a 404, a private address).
    demo.launch(server_name=args.host, server_port=args.port, max_file_size=MAX_UPLOAD, mcp_server=MCP,
                show_error=MCP)
