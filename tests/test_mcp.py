"""`python app.py --mcp`: the app as an MCP server with one tool, read_number, driven by the `mcp`
package's own client over streamable HTTP; and the plain app, which serves no MCP."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from benchmarks.load import free_port, start_app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def mcp_app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python app.py --mcp` on a free port; stopped after these tests."""
    port = free_port()
    log = tmp_path_factory.mktemp("mcp_app") / "app.log"
    temp = tmp_path_factory.mktemp("mcp_gradio")
    try:
        server = start_app(port, log, command=("app.py", "--mcp"),
                           env={"MNIST_DEMO_DEVICE": "cpu", "GRADIO_TEMP_DIR": str(temp)})
    except RuntimeError:
        pytest.fail(f"app.py --mcp did not start; see {log}")
    yield f"http://127.0.0.1:{port}/"
    server.terminate()
    server.wait(timeout=30)


def data_url(path: Path) -> str:
    """A file as a base64 data: URL, one of the two ways an agent hands read_number a picture."""
    return f"data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}"


def mcp_session(url: str, *calls: tuple[str, dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """Connect to the app's MCP server, list its tools and make `calls` (tool name, arguments) in
    order; returns the tools and the calls' results."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def session() -> tuple[list[Any], list[Any]]:
        async with streamable_http_client(f"{url}gradio_api/mcp/") as (read, write, _), \
                ClientSession(read, write) as client:
            await client.initialize()
            tools = (await client.list_tools()).tools
            return tools, [await client.call_tool(name, arguments) for name, arguments in calls]

    return asyncio.run(session())


def test_read_number_is_the_one_tool_and_says_what_it_takes(mcp_app_url: str) -> None:
    (tool,), _ = mcp_session(mcp_app_url)
    assert tool.name == "read_number"
    assert tool.description.startswith("Read the handwritten digits in a picture")
    assert list(tool.inputSchema["properties"]) == ["image"] and tool.inputSchema["required"] == ["image"]
    assert "data: URL" in tool.inputSchema["properties"]["image"]["description"]


def test_read_number_reads_a_number(mcp_app_url: str) -> None:
    _, (result,) = mcp_session(mcp_app_url, ("read_number", {"image": data_url(EXAMPLES / "number_427.png")}))
    assert not result.isError
    answer = json.loads(result.content[0].text)
    assert answer["number"] == "427" and answer["message"] is None
    assert [digit["label"] for digit in answer["digits"]] == [4, 2, 7]
    width, height = Image.open(EXAMPLES / "number_427.png").size
    lefts = [digit["box"][0] for digit in answer["digits"]]
    assert lefts == sorted(lefts)  # left to right
    for digit in answer["digits"]:
        assert digit["confidence"] > 0.5 and digit["detector_label"] == digit["label"]
        x0, y0, x1, y1 = digit["box"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height  # in the picture's own pixels
        assert digit["mask_dice"] > 0.8 and digit["mask_iou"] > 0.6 and digit["box_iou"] > 0.6


def test_bad_inputs_get_a_clear_message_and_the_server_keeps_serving(mcp_app_url: str) -> None:
    not_a_picture = "data:image/png;base64," + base64.b64encode(b"just some text").decode()
    _, (text, unreachable, server_file, good) = mcp_session(
        mcp_app_url,
        ("read_number", {"image": not_a_picture}),
        ("read_number", {"image": "http://127.0.0.1:9/missing.png"}),  # Gradio fetches public hosts only
        ("read_number", {"image": "/etc/passwd"}),  # a path on the server is no URL
        ("read_number", {"image": data_url(EXAMPLES / "drawn_3.png")}),
    )
    assert text.isError and "is not an image this app can read" in text.content[0].text
    assert unreachable.isError and "127.0.0.1" in unreachable.content[0].text
    assert server_file.isError and "provide a url" in server_file.content[0].text
    assert not good.isError and json.loads(good.content[0].text)["number"] == "3"


def test_the_page_endpoint_still_answers_unlisted(mcp_app_url: str, tmp_path: Path) -> None:
    """As an MCP server the app's API lists only read_number; /predict still answers by name."""
    from gradio_client import Client, handle_file

    client = Client(mcp_app_url, verbose=False, download_files=str(tmp_path))
    assert list(client.view_api(return_format="dict")["named_endpoints"]) == ["/read_number"]
    number, *_ = client.predict(handle_file(str(EXAMPLES / "drawn_3.png")), api_name="/predict")
    assert number["label"] == "3"


def test_the_plain_app_serves_no_mcp(app_url: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{app_url}gradio_api/mcp/schema", timeout=10)
    assert refused.value.code == 404
