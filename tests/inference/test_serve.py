"""The web app and JSON API (python -m fer_keras.serve): every endpoint, every hostile input (each
followed by a good request), nothing written to disk, the CLI, and the page in headless Chromium."""

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

import cv2
import numpy as np
import pytest
from skimage import data as samples

pytest.importorskip("fastapi", reason="the web app's extra is not installed: pip install -e '.[serve]'")
from fastapi.testclient import TestClient  # noqa: E402

from conftest import REPO  # noqa: E402
from fer_keras import EMOTIONS  # noqa: E402
from fer_keras.inference.predict import EmotionRecognizer  # noqa: E402
from fer_keras.models.pretrained import MODEL_CARD  # noqa: E402
from fer_keras.inference.serve import Limits, bind, create_app, main, model_info, packaged_card  # noqa: E402

ASTRONAUT_BOX = (176, 75, 98, 98)  # the default detector's (BlazeFace's) one face in skimage's astronaut
# (tests/inference/test_predict.py)
LIMITS = Limits(max_bytes=4 * 2**20, max_images=3, max_pixels=4_000_000)
SCREENSHOT = REPO / "results" / "serve" / "screenshot.png"


def encode(image, ext):
    return cv2.imencode(ext, image)[1].tobytes()


def png_header(width, height):
    """A PNG whose header claims ``width``×``height`` pixels (1-bit grey), with one tiny IDAT: a
    decompression bomb as far as anything that trusts the header knows."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(
        b"IEND", b"")


@pytest.fixture(scope="module")
def astronaut():
    return cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def photos(astronaut):
    png, jpeg = encode(astronaut, ".png"), encode(astronaut, ".jpg")
    noise = np.random.default_rng(0).integers(0, 256, (1000, 1000, 3), dtype=np.uint8)
    return {"png": png, "jpeg": jpeg, "coffee": encode(cv2.cvtColor(samples.coffee(), cv2.COLOR_RGB2BGR), ".jpg"),
            "noise": encode(noise, ".png")}  # about 3 MB: over Starlette's 1 MB spooling threshold


@pytest.fixture(scope="module")
def recognizer():
    return EmotionRecognizer()  # the packaged FERNet-S


@pytest.fixture(scope="module")
def app(recognizer):
    info = model_info(recognizer, "FERNet-S", packaged_card(), {"detector": "blazeface", "fast": False})
    return create_app(recognizer, LIMITS, info)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def assert_astronaut(result, recognizer, astronaut):
    """The one face of the astronaut, with the probabilities the Python API gives for it."""
    assert (result["width"], result["height"]) == (512, 512)
    [face] = result["faces"]
    assert np.allclose(face["box"], ASTRONAUT_BOX, atol=3), face["box"]
    assert list(face["emotions"]) == list(EMOTIONS)
    assert sum(face["emotions"].values()) == pytest.approx(1, abs=1e-5)
    [expected] = recognizer.detect_emotions(astronaut)
    assert face["box"] == expected["box"]
    assert np.allclose(list(face["emotions"].values()), list(expected["emotions"].values()), atol=1e-4)


def assert_serves(client, photos):
    """The server still answers a good request after a bad one."""
    response = client.post("/api/v1/emotions", files={"image": ("a.png", photos["png"], "image/png")})
    assert response.status_code == 200, response.text
    assert len(response.json()["faces"]) == 1


def assert_refused(response, status, words):
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"]
    assert re.search(words, body["error"]), body["error"]
    assert "\n" not in body["error"] and "Traceback" not in body["error"]


# ---- endpoints -----------------------------------------------------------------------------


def test_multipart_upload_finds_the_astronaut(client, photos, recognizer, astronaut):
    response = client.post("/api/v1/emotions", files={"image": ("astronaut.png", photos["png"], "image/png")})
    assert response.status_code == 200, response.text
    result = response.json()
    assert_astronaut(result, recognizer, astronaut)
    timing = result["timing_ms"]
    assert set(timing) == {"queue", "decode", "inference", "total"}
    assert all(v >= 0 for v in timing.values()) and timing["total"] >= timing["inference"]


def test_json_base64_and_data_uri_give_the_same_answer(client, photos, recognizer, astronaut):
    encoded = base64.b64encode(photos["png"]).decode()
    plain = client.post("/api/v1/emotions", json={"image": encoded})
    uri = client.post("/api/v1/emotions", json={"image": "data:image/png;base64," + encoded})
    for response in (plain, uri):
        assert response.status_code == 200, response.text
        assert_astronaut(response.json(), recognizer, astronaut)


def test_a_jpeg_upload_finds_the_same_face(client, photos):
    response = client.post("/api/v1/emotions", files={"image": ("a.jpg", photos["jpeg"], "image/jpeg")})
    assert response.status_code == 200, response.text
    [face] = response.json()["faces"]
    assert np.allclose(face["box"], ASTRONAUT_BOX, atol=5)


def test_batch_multipart_and_json_keep_the_images_order(client, photos):
    files = [("images", ("a.png", photos["png"], "image/png")), ("images", ("c.jpg", photos["coffee"], "image/jpeg")),
             ("images", ("a.jpg", photos["jpeg"], "image/jpeg"))]
    response = client.post("/api/v1/emotions", files=files)
    assert response.status_code == 200, response.text
    results = response.json()["images"]
    assert [len(r["faces"]) for r in results] == [1, 0, 1]  # the coffee cup has no face
    assert (results[1]["width"], results[1]["height"]) == (600, 400)
    batch = [base64.b64encode(photos[k]).decode() for k in ("coffee", "png")]
    response = client.post("/api/v1/emotions", json={"images": batch})
    assert response.status_code == 200, response.text
    assert [len(r["faces"]) for r in response.json()["images"]] == [0, 1]
    assert "total" in response.json()["timing_ms"]


def test_model_health_page_and_openapi(client):
    model = client.get("/api/v1/model").json()
    card = json.loads(MODEL_CARD.read_text())
    assert model["name"] == "FERNet-S" and model["labels"] == list(EMOTIONS) and model["input"] == [48, 48, 1]
    assert model["tta"] == "flip"  # the recognizer's default for photos
    assert model["card"]["private_test_accuracy"] == card["private_test"]["accuracy"]
    assert model["limits"] == {"max_bytes": LIMITS.max_bytes, "max_images": 3, "max_pixels": 4_000_000}
    assert client.get("/healthz").json() == {"status": "ok"}
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    scripts = re.findall(r'src="([^"]+)"', page.text) + re.findall(r'href="(/static/[^"]+)"', page.text)
    assert scripts and all(client.get(src).status_code == 200 for src in scripts)
    assert not re.search(r'(src|href)="(https?:)?//', page.text)  # no CDN: the page works offline
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/api/v1/emotions"]["post"]["requestBody"]["content"]
    assert set(body) == {"multipart/form-data", "application/json"}
    assert {"/api/v1/model", "/healthz"} <= set(schema["paths"])


def test_fast_model_card_is_the_int8_copys():
    card = json.loads(MODEL_CARD.read_text())
    assert packaged_card(fast=True)["private_test_accuracy"] == card["int8_tflite"]["private_test"]["accuracy"]


# ---- hostile input: a 4xx in one sentence, then the server still serves ----------------------


def multipart(body, boundary="b0undary"):
    return {"content": body, "headers": {"content-type": f"multipart/form-data; boundary={boundary}"}}


def hostile_cases(photos):
    png, jpeg = photos["png"], photos["jpeg"]
    corrupt = png[:200] + bytes(b ^ 0x5A for b in png[200:5000]) + png[5000:]
    b64 = base64.b64encode(png).decode()
    return {
        "not an image": ({"files": {"image": ("a.png", b"just some text, not pixels", "image/png")}}, 400,
                         "not an image"),
        "truncated JPEG": ({"files": {"image": ("a.jpg", jpeg[:len(jpeg) // 2], "image/jpeg")}}, 400, "truncated"),
        "truncated PNG": ({"files": {"image": ("a.png", png[:len(png) // 2], "image/png")}}, 400, "truncated"),
        "corrupt PNG": ({"files": {"image": ("a.png", corrupt, "image/png")}}, 400, "corrupt"),
        "0-byte file": ({"files": {"image": ("a.png", b"", "image/png")}}, 400, "empty"),
        "bomb over --max-pixels": ({"files": {"image": ("b.png", png_header(5000, 5000), "image/png")}}, 413,
                                   "25,000,000 pixels"),
        "bomb over PIL's own limit": ({"json": {"image": base64.b64encode(png_header(100_000, 100_000)).decode()}},
                                      413, "pixel"),
        "bad image in a batch": ({"files": [("images", ("a.png", png, "image/png")),
                                            ("images", ("b.png", b"\x89PNG broken", "image/png"))]}, 400, "image 2"),
        "text/plain body": ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, "text/plain"),
        "no content type": ({"content": png}, 415, "missing"),
        "bad base64": ({"json": {"image": "this is not base64!"}}, 400, "base64"),
        "base64 of a non-string": ({"json": {"image": 12345}}, 400, "base64 string"),
        "data URI without base64": ({"json": {"image": "data:image/png,abc"}}, 400, "base64"),
        "unknown JSON field": ({"json": {"image": b64, "threshold": 0.5}}, 400, "unknown field.*threshold"),
        "unknown multipart field": ({"files": {"image": ("a.png", png, "image/png")}, "data": {"mode": "x"}}, 400,
                                    "unknown field.*mode"),
        "both image and images": ({"json": {"image": b64, "images": [b64]}}, 400, "either"),
        "empty JSON object": ({"json": {}}, 400, "either"),
        "images not a list": ({"json": {"images": b64}}, 400, "list"),
        "JSON not an object": ({"json": [b64]}, 400, "object"),
        "invalid JSON": ({"content": b'{"image": ', "headers": {"content-type": "application/json"}}, 400, "JSON"),
        "too many images (JSON)": ({"json": {"images": [b64] * 4}}, 400, "too many images: 4.*at most 3"),
        "too many images (multipart)": ({"files": [("images", (f"{i}.png", b"x", "image/png")) for i in range(5)]},
                                        400, "too many"),
        "two files as image": ({"files": [("image", ("a.png", png, "image/png"))] * 2}, 400, "one \"image\""),
        "multipart without boundary": ({"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data"}},
                                       400, "boundary"),
        "garbage multipart": (multipart(b"\x00\x01garbage" * 100), 400, "malformed"),
        "truncated multipart": (multipart(b'--b0undary\r\nContent-Disposition: form-data; name="image"; '
                                          b'filename="a.png"\r\n\r\n' + png[:1000]), 400, "truncated"),
        "body over the limit (Content-Length)": ({"files": {"image": ("n.png", b"\0" * (LIMITS.max_bytes + 1),
                                                                      "image/png")}}, 413, "over the"),
        "body over the limit (chunked, no length)": (
            {"content": iter([b"\0" * 2**20] * 5), "headers": {"content-type": "multipart/form-data; boundary=x"}},
            413, "over the"),
    }


HOSTILE = list(hostile_cases({"png": b"", "jpeg": b""}))


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_input_gets_a_4xx_and_the_server_still_serves(client, photos, case):
    kwargs, status, words = hostile_cases(photos)[case]
    assert_refused(client.post("/api/v1/emotions", **kwargs), status, words)
    assert_serves(client, photos)


@pytest.mark.parametrize("method, path, status", [("get", "/api/v1/emotions", 405), ("get", "/nowhere", 404),
                                                  ("delete", "/healthz", 405)])
def test_wrong_routes_answer_json(client, photos, method, path, status):
    assert_refused(getattr(client, method)(path), status, "Not|not")
    assert_serves(client, photos)


# ---- nothing uploaded touches the disk ---------------------------------------------------------

_WRITES = {"on": False, "seen": []}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND


def _audit(event, args):
    if _WRITES["on"] and event == "open" and len(args) == 3:
        path, mode, flags = args
        if (isinstance(mode, str) and set(mode) & set("wax+")) or (isinstance(flags, int) and flags & _WRITE_FLAGS):
            _WRITES["seen"].append(path)


sys.addaudithook(_audit)


def writes_during(call):
    """Files opened for writing, by anything in this process, while ``call()`` runs."""
    _WRITES["seen"].clear()
    _WRITES["on"] = True
    try:
        result = call()
    finally:
        _WRITES["on"] = False
    return result, list(_WRITES["seen"])


def test_the_audit_hook_sees_starlettes_spooling_to_disk(photos):
    """The check below can fail: Starlette's own form parser spools a 3 MB upload to a temporary file."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def form(request):
        upload = (await request.form())["image"]
        return JSONResponse({"size": len(await upload.read())})

    with TestClient(Starlette(routes=[Route("/", form, methods=["POST"])])) as spooling:
        response, writes = writes_during(lambda: spooling.post("/", files={"image": ("n.png", photos["noise"])}))
    assert response.json() == {"size": len(photos["noise"])}
    assert writes, "the audit hook missed Starlette's temporary file"


def test_uploads_are_not_written_to_disk(client, photos):
    assert len(photos["noise"]) > 2 * 2**20
    single = {"files": {"image": ("n.png", photos["noise"], "image/png")}}
    batch = {"json": {"images": [base64.b64encode(photos["noise"]).decode()]}}
    for kwargs in (single, batch):
        response, writes = writes_during(lambda: client.post("/api/v1/emotions", **kwargs))
        assert response.status_code == 200, response.text
        assert response.json().get("width", 1000) == 1000
        assert writes == []


# ---- a real server on loopback: size limits before the body is read ---------------------------


@pytest.fixture(scope="module")
def live_server(app):
    """uvicorn on 127.0.0.1 (a free port) in a thread of this process, sharing the loaded model."""
    import uvicorn

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(30)


def raw_request(url, head, body_chunks):
    """Send ``head`` then the body chunks one by one, stopping when the server answers; returns
    ``(status, json, bytes of body sent)``."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(head)
        sent = 0
        conn.settimeout(0.05)
        answer = b""
        for chunk in body_chunks:
            try:
                answer = conn.recv(65536)
                if answer:
                    break
            except socket.timeout:
                pass
            try:
                conn.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        conn.settimeout(60)
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            more = conn.recv(65536)
            if not more:
                break
            answer += more
    head, _, body = answer.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0", 1)[0]
    return int(head.split()[1]), json.loads(body), sent


def test_an_over_size_upload_is_refused_from_its_content_length_before_it_is_sent(live_server, photos):
    head = (b"POST /api/v1/emotions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: 1000000000\r\n\r\n")
    status, body, sent = raw_request(live_server, head, [b"\0" * 65536] * 15000)
    assert status == 413 and "1,000,000,000 bytes" in body["error"]
    assert sent < LIMITS.max_bytes  # refused long before 1 GB (or even the limit) went over the wire


def test_a_chunked_upload_is_cut_off_once_it_passes_the_limit(live_server, photos):
    head = (b"POST /api/v1/emotions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"\0" * 65536 + b"\r\n"
    status, body, sent = raw_request(live_server, head, [chunk] * 15000)
    assert status == 413 and "over the" in body["error"]
    assert sent < 3 * LIMITS.max_bytes
    import urllib.request

    with urllib.request.urlopen(live_server + "/healthz", timeout=30) as response:
        assert json.loads(response.read()) == {"status": "ok"}


# ---- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("args, words", [
    (["--port", "70000"], "--port"), (["--port", "http"], "--port"), (["--max-upload-mb", "0"], "above 0"),
    (["--max-images", "-1"], "above 0"), (["--max-pixels", "many"], "--max-pixels"), (["--host", " "], "--host"),
    (["--fast", "--model", "x.keras"], "--fast"), (["--model", "missing.keras"], "no such file"),
    (["--tta", "sideways"], "TTA"), (["--detector", "eyes"], "--detector"), (["--bogus"], "unrecognized")])
def test_bad_options_are_one_line_and_exit_2(capsys, args, words):
    with pytest.raises(SystemExit) as exit:
        main(args)
    err = capsys.readouterr().err
    assert exit.value.code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err


def test_a_run_folder_without_best_keras_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--model", str(tmp_path)])
    assert exit.value.code == 2 and "without best.keras" in capsys.readouterr().err


def test_a_port_in_use_is_refused_before_the_model_loads(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exit:
            main(["--port", str(port)])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and f"cannot listen on 127.0.0.1:{port}" in err and err.count("\n") == 1


def test_help_and_option_checks_do_not_import_tensorflow():
    code = ("import sys; from fer_keras.inference.serve import parse_args; parse_args(['--port', '0', '--fast']); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'fastapi', 'uvicorn') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    help = subprocess.run([sys.executable, "-m", "fer_keras.serve", "--help"], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert help.returncode == 0 and "--max-upload-mb" in help.stdout and "127.0.0.1" in help.stdout


@pytest.mark.slow
def test_the_command_serves_on_loopback_only_and_stops_on_ctrl_c(photos):
    import signal
    import urllib.request

    server = subprocess.Popen([sys.executable, "-m", "fer_keras.serve", "--fast", "--port", "0"], cwd=REPO,
                              stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not (lines and lines[-1].startswith("serving")):
            line = server.stderr.readline()
            assert line, "the server exited: " + "".join(lines)
            lines.append(line)
        url = re.search(r"on (http://\S+/) ", lines[-1]).group(1)
        assert url.startswith("http://127.0.0.1:")
        model = json.loads(urllib.request.urlopen(url + "api/v1/model", timeout=60).read())
        assert model["name"] == "FERNet-S int8 TFLite" and model["fast"] is True and model["tta"] == "none"
        boundary = "fer"
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
                f"Content-Type: image/jpeg\r\n\r\n").encode() + photos["jpeg"] + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(url + "api/v1/emotions", data=body, method="POST", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        result = json.loads(urllib.request.urlopen(request, timeout=120).read())
        assert len(result["faces"]) == 1 and np.allclose(result["faces"][0]["box"], ASTRONAUT_BOX, atol=5)
        server.send_signal(signal.SIGINT)
        assert server.wait(60) == 130  # uvicorn shuts down, then Ctrl-C exits as in the other commands
        assert "Traceback" not in server.stderr.read()
    finally:
        server.kill()
        server.wait()


# ---- the page, in headless Chromium -----------------------------------------------------------


def chromium_paths():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return browser, driver


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    binary, driver = chromium_paths()
    if not binary or not driver:
        pytest.skip("no Chromium here: apt-get install -y chromium chromium-driver (Debian), as .ci/run does")
    y4m = tmp_path / "webcam.y4m"  # the fake webcam shows the astronaut
    frame = cv2.cvtColor(cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR), cv2.COLOR_BGR2YUV_I420)
    y4m.write_bytes(b"YUV4MPEG2 W512 H512 F10:1 Ip A1:1 C420jpeg\n" + (b"FRAME\n" + frame.tobytes()) * 5)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,820",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={y4m}"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    yield chrome
    chrome.quit()


def wait_for(chrome, css, count, timeout=120):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(chrome, timeout).until(
        lambda d: (lambda found: found if len(found) >= count else False)(d.find_elements(By.CSS_SELECTOR, css)))


@pytest.mark.slow
def test_the_page_boxes_the_face_of_an_uploaded_photo(browser, live_server, astronaut, tmp_path):
    from selenium.webdriver.common.by import By

    photo = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(photo), astronaut)
    browser.get(live_server + "/")
    wait_for(browser, "#model", 1)
    browser.find_element(By.ID, "file").send_keys(str(photo))
    [box] = wait_for(browser, ".box", 1)
    bars = wait_for(browser, ".bar", len(EMOTIONS))
    assert len(bars) == len(EMOTIONS)
    assert re.fullmatch(r"1: (\w+) [\d.]+ %", box.text) and box.text.split()[1] in EMOTIONS, box.text
    widths = [float(bar.value_of_css_property("width").removesuffix("px")) for bar in bars]
    assert max(widths) > 10 and sum(w > 0 for w in widths) >= 1
    # the box sits on the face: its position over the shown photo matches the API's box
    shown = browser.find_element(By.ID, "photo").rect
    scale = shown["width"] / 512
    assert abs(box.rect["x"] - shown["x"] - ASTRONAUT_BOX[0] * scale) < 8
    assert abs(box.rect["width"] - ASTRONAUT_BOX[2] * scale) < 8
    status = browser.find_element(By.ID, "status").text
    assert re.match(r"1 face · server [\d.]+ ms", status), status
    accuracy = json.loads(MODEL_CARD.read_text())["private_test"]["accuracy"]
    assert f"PrivateTest accuracy {accuracy} %" in browser.find_element(By.ID, "model").text
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


@pytest.mark.slow
def test_the_page_boxes_the_face_in_webcam_frames(browser, live_server):
    from selenium.webdriver.common.by import By

    browser.get(live_server + "/")
    browser.find_element(By.ID, "webcam").click()
    wait_for(browser, ".box", 1)
    wait_for(browser, ".bar", len(EMOTIONS))
    assert browser.find_element(By.ID, "status").text.startswith("webcam: 1 face")
    assert browser.find_element(By.ID, "webcam").text == "Stop the webcam"
    browser.find_element(By.ID, "webcam").click()
    assert browser.find_element(By.ID, "webcam").text == "Use the webcam"


def test_the_load_test_counts_requests_and_errors(live_server, photos):
    from fer_keras.bench.serve_load import rss_mb, run_load

    port = int(live_server.rsplit(":", 1)[1])
    load = run_load("127.0.0.1", port, photos["jpeg"], clients=3, requests=7)
    assert load["requests"] == 7 and load["errors"] == 0
    assert 0 < load["p50_ms"] <= load["p95_ms"] <= load["p99_ms"] <= load["max_ms"]
    coffee = run_load("127.0.0.1", port, photos["coffee"], clients=2, requests=2)  # no face: counted as errors
    assert coffee["errors"] == 2
    current, peak = rss_mb(os.getpid())
    assert 0 < current <= peak
