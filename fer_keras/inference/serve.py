"""A local web app and JSON API for the recognizer: ``python -m fer_keras.serve``.

``pip install -e ".[serve]"``, then ``python -m fer_keras.serve`` and open http://127.0.0.1:8000/:
upload a photo or turn on the webcam; each face is boxed with its top emotion and a bar chart of
the seven probabilities. The same model answers programs over HTTP:

    curl -F image=@photo.jpg http://127.0.0.1:8000/api/v1/emotions
    {"faces": [{"box": [177, 66, 95, 95], "emotions": {"angry": 0.02, ...}}], "width": 512, ...}

``POST /api/v1/emotions`` takes a multipart upload (field ``image``, or ``images`` repeated for a
batch) or JSON (``{"image": "<base64>"}`` or ``{"images": [...]}``; a data URI is accepted);
``GET /api/v1/model`` names the model, its labels and its model-card numbers; ``GET /healthz``;
the OpenAPI schema at ``/openapi.json`` (``/docs`` renders it).

Untrusted input: a request body over ``--max-upload-mb`` is refused from its Content-Length, or
once that many bytes have streamed in; images are sniffed (JPEG, PNG, WebP, BMP, TIFF, GIF, PPM),
their pixel count is checked from the header before decoding (``--max-pixels``), truncated ones
are refused; every refusal is a 4xx ``{"error": "one sentence"}``. Bodies are parsed in memory
(no multipart spooling to temporary files): nothing uploaded touches the disk. One image pipeline
runs at a time (decode → detect → classify), which bounds memory to one decoded image.

Listens on 127.0.0.1 only unless ``--host`` says otherwise; there is no authentication.
"""

import argparse
import base64
import binascii
import importlib.util
import io
import json
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fer_keras import IMAGE_SIZE, __version__
from fer_keras.cli import user_errors_exit
from fer_keras.errors import FERError

STATIC = Path(__file__).with_name("static")
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "PPM")
"""What PIL may open: the usual photo formats, none of its exotic or external-program ones."""
SERVE_MODULES = {"fastapi": "fastapi", "uvicorn": "uvicorn", "python_multipart": "python-multipart",
                 "PIL": "pillow"}


@dataclass(frozen=True)
class Limits:
    """What one request may carry."""

    max_bytes: int = 10 * 2**20
    """Largest request body (multipart or JSON), in bytes."""
    max_images: int = 16
    """Most images in one request."""
    max_pixels: int = 40_000_000
    """Most pixels (width × height) in one image, read from its header before decoding."""


class RequestError(Exception):
    """A request the API refuses: an HTTP status and one sentence for ``{"error": ...}``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


# ---- request bodies → image bytes → grey arrays ------------------------------------------


async def read_body(request, limit):
    """The whole request body, refused (413) from its Content-Length when over ``limit`` bytes, or
    as soon as the bytes streamed in pass it (a chunked upload has no length)."""
    from starlette.requests import ClientDisconnect

    length = request.headers.get("content-length")
    if length is not None:
        if not length.strip().isdigit():
            raise RequestError(400, f"the Content-Length header {length!r} is not a number")
        if int(length) > limit:
            raise RequestError(413, f"the request body ({int(length):,} bytes) is over the {limit:,}-byte limit")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"the request body is over the {limit:,}-byte limit")
            chunks.append(chunk)
    except ClientDisconnect:
        raise RequestError(400, "the client disconnected before sending the whole body") from None
    return b"".join(chunks)


def parse_multipart(body, content_type, max_parts):
    """``[(field name, bytes)]`` of a ``multipart/form-data`` body, parsed in memory."""
    from python_multipart.exceptions import FormParserError, MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header

    boundary = parse_options_header(content_type)[1].get(b"boundary")
    if not boundary:
        raise RequestError(400, "the multipart Content-Type has no boundary")
    parts, headers, header = [], {}, [b"", b""]
    ended = []

    def on_part_begin():
        headers.clear()
        parts.append([None, []])
        if len(parts) > max_parts:
            raise RequestError(400, f"too many parts in the multipart body (at most {max_parts} images)")

    def on_header_end():
        headers[header[0].lower()] = header[1]
        header[:] = [b"", b""]

    def on_headers_finished():
        name = parse_options_header(headers.get(b"content-disposition"))[1].get(b"name")
        parts[-1][0] = (name or b"").decode("utf-8", "replace")

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_part_data": lambda data, start, end: parts[-1][1].append(data[start:end]),
        "on_header_field": lambda data, start, end: header.__setitem__(0, header[0] + data[start:end]),
        "on_header_value": lambda data, start, end: header.__setitem__(1, header[1] + data[start:end]),
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_end": lambda: ended.append(True),
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        parser.write(body)
        parser.finalize()
    except (MultipartParseError, FormParserError, ValueError):
        raise RequestError(400, "the multipart body is malformed") from None
    if not ended:
        raise RequestError(400, "the multipart body is truncated (no closing boundary)")
    return [(name, b"".join(chunks)) for name, chunks in parts]


def from_base64(value, name):
    """Bytes of a base64 string or a base64 data URI (``data:image/png;base64,…``)."""
    if not isinstance(value, str):
        raise RequestError(400, f"{name} must be a base64 string, got {type(value).__name__}")
    if value.startswith("data:"):
        header, _, value = value.partition(",")
        if not header.endswith(";base64"):
            raise RequestError(400, f"{name} is a data URI that is not base64-encoded")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, f"{name} is not valid base64") from None


def parse_json(body):
    """``{"image": b64}`` or ``{"images": [b64, ...]}`` → ``(field, [bytes])``."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RequestError(400, "the body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise RequestError(400, 'the JSON body must be an object: {"image": "<base64>"} or {"images": [...]}')
    unknown = sorted(set(doc) - {"image", "images"})
    if unknown:
        raise RequestError(400, f"unknown field(s) {', '.join(map(repr, unknown))}: send \"image\" (one base64 "
                           "image) or \"images\" (a list of them)")
    if len(doc) != 1:
        raise RequestError(400, 'send either "image" or "images", not both and not neither')
    field, value = next(iter(doc.items()))
    if field == "image":
        return field, [from_base64(value, "image")]
    if not isinstance(value, list) or not value:
        raise RequestError(400, '"images" must be a non-empty list of base64 strings')
    return field, [from_base64(item, f"images[{i}]") for i, item in enumerate(value)]


def media_type(content_type):
    """The request's media type, refused (415) unless multipart/form-data or application/json."""
    media = content_type.split(";")[0].strip().lower()
    if media not in ("multipart/form-data", "application/json"):
        raise RequestError(415, f"Content-Type {media or 'missing'!r} is not accepted: send multipart/form-data "
                           "or application/json")
    return media


def images_of(body, content_type, limits):
    """``(field, [bytes])`` of a request: field ``image`` (one) or ``images`` (a batch)."""
    if media_type(content_type) == "application/json":
        field, images = parse_json(body)
    else:
        parts = parse_multipart(body, content_type, limits.max_images + 1)
        unknown = sorted({name for name, _ in parts} - {"image", "images"})
        if unknown:
            raise RequestError(400, f"unknown field(s) {', '.join(map(repr, unknown))}: upload the photo as "
                               "\"image\" (or several as \"images\")")
        fields = {name for name, _ in parts}
        if len(fields) != 1:
            raise RequestError(400, 'upload either "image" or "images", not both and not neither')
        field, images = fields.pop(), [data for _, data in parts]
        if field == "image" and len(images) > 1:
            raise RequestError(400, 'one "image" per request; send several as "images"')
    if len(images) > limits.max_images:
        raise RequestError(400, f"too many images: {len(images)} in one request, at most {limits.max_images}")
    return field, images


def decode_image(raw, name, max_pixels):
    """An image's bytes → H×W uint8 grey array (EXIF rotation applied, as ``cv2.imread`` does),
    its size checked from the header before any pixel is decoded."""
    import cv2
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not raw:
        raise RequestError(400, f"{name} is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(raw), formats=IMAGE_FORMATS) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise RequestError(413, f"{name} is {width}×{height} = {width * height:,} pixels, over the "
                                   f"{max_pixels:,}-pixel limit")
            rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except RequestError:
        raise
    except Image.DecompressionBombError:
        raise RequestError(413, f"{name} has more pixels than the {max_pixels:,}-pixel limit") from None
    except UnidentifiedImageError:
        raise RequestError(400, f"{name} is not an image in a supported format "
                           f"({', '.join(IMAGE_FORMATS)})") from None
    except Exception:  # an uploaded file: any failure to decode it is the sender's
        raise RequestError(400, f"{name} could not be decoded (truncated or corrupt)") from None
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


# ---- the app -----------------------------------------------------------------------------


def model_info(recognizer, name, card=None, settings=None):
    """What ``GET /api/v1/model`` answers."""
    return {"name": name, "labels": list(recognizer.class_names), "label_set": recognizer.label_set.name,
            "input": [IMAGE_SIZE, IMAGE_SIZE, 1], "tta": recognizer.tta, "card": card, **(settings or {})}


def packaged_card(fast=False):
    """The packaged model's PrivateTest / PublicTest numbers from its model card."""
    from fer_keras.models.pretrained import model_card

    card = model_card()
    test = card["int8_tflite"]["private_test"] if fast else card["private_test"]
    return {"private_test_accuracy": test["accuracy"], "private_test_macro_f1": test["macro_f1"],
            "private_test_accuracy_tta": test["accuracy_tta"], "tta": test["tta"],
            "private_test_n": card["private_test"]["n"],
            "command": card["int8_tflite"]["command"] if fast else card["command"]}


REQUEST_BODY = {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "image": {"type": "string", "format": "binary", "description": "one photo"},
        "images": {"type": "array", "items": {"type": "string", "format": "binary"},
                   "description": "several photos (a batch)"}}}},
    "application/json": {"schema": {"type": "object", "additionalProperties": False, "properties": {
        "image": {"type": "string", "description": "one photo, base64 (or a base64 data URI)"},
        "images": {"type": "array", "items": {"type": "string"}, "description": "several photos, base64"}}}}}}


def create_app(recognizer, limits=Limits(), info=None):
    """The ASGI app around an :class:`~fer_keras.inference.predict.EmotionRecognizer`."""
    from fastapi import FastAPI, Request
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException

    info = {**(info or model_info(recognizer, "model")), "limits": asdict(limits)}
    lock = threading.Lock()  # one decode → detect → classify at a time (memory; models aren't thread-safe)
    app = FastAPI(title="fer_keras", version=__version__,
                  description="Faces and their emotions in photos: the fer_keras recognizer over HTTP.")

    @app.exception_handler(RequestError)
    async def refused(request, err):
        return JSONResponse({"error": err.message}, status_code=err.status)

    @app.exception_handler(HTTPException)
    async def http_error(request, err):
        return JSONResponse({"error": f"{err.detail}: {request.method} {request.url.path}"},
                            status_code=err.status_code, headers=getattr(err, "headers", None))

    @app.exception_handler(Exception)
    async def failed(request, err):  # logged by the server; the client gets one line, no traceback
        return JSONResponse({"error": f"internal error ({type(err).__name__})"}, status_code=500)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", summary="Liveness: the model is loaded and the server answers")
    async def healthz():
        return {"status": "ok"}

    @app.get("/api/v1/model", summary="The model: name, labels, input, model-card numbers, request limits")
    async def model():
        return info

    def analyze(images, start):
        with lock:
            waited = time.perf_counter()
            greys = [decode_image(raw, name, limits.max_pixels) for name, raw in images]
            decoded = time.perf_counter()
            faces = [found for _, _, found in recognizer.analyze(enumerate(greys))]
            done = time.perf_counter()
        sizes = [grey.shape[1::-1] for grey in greys]
        timing = {"queue": waited - start, "decode": decoded - waited, "inference": done - decoded,
                  "total": done - start}
        return faces, sizes, {k: round(v * 1000, 1) for k, v in timing.items()}

    @app.post("/api/v1/emotions", summary="Faces and their emotions in one photo (image) or several (images)",
              openapi_extra={"requestBody": REQUEST_BODY})
    async def emotions(request: Request):
        start = time.perf_counter()
        content_type = request.headers.get("content-type", "")
        media_type(content_type)  # a wrong type is refused before the body is read
        body = await read_body(request, limits.max_bytes)
        field, images = images_of(body, content_type, limits)
        names = ["the image"] if field == "image" else [f"image {i + 1}" for i in range(len(images))]
        del body
        faces, sizes, timing = await run_in_threadpool(analyze, list(zip(names, images)), start)
        results = [{"faces": found, "width": width, "height": height} for found, (width, height) in zip(faces, sizes)]
        if field == "image":
            return {**results[0], "timing_ms": timing}
        return {"images": results, "timing_ms": timing}

    return app


# ---- command line ------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """Bad options are one line (``error: …``) and exit status 2, as every other user error."""

    def error(self, message):
        raise FERError(message)


def positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def parse_args(argv):
    from fer_keras.data.faces import DEFAULT_DETECTOR, DETECTORS
    from fer_keras.models.tta import check_tta

    parser = Parser(
        prog="python -m fer_keras.serve",
        description="A local web app (upload a photo or use the webcam) and a JSON API (POST /api/v1/emotions, "
        "GET /api/v1/model, GET /healthz, OpenAPI at /openapi.json) for the emotion recognizer. Needs "
        "pip install 'fer_keras[serve]'.",
        epilog="Example: python -m fer_keras.serve --fast, then open http://127.0.0.1:8000/ or "
        "curl -F image=@photo.jpg http://127.0.0.1:8000/api/v1/emotions. There is no authentication: "
        "listen beyond this machine (--host 0.0.0.0) only on a network you trust.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default: %(default)s, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port, 0 for any free one (default: %(default)s)")
    parser.add_argument("--model", metavar="RUN|FILE",
                        help="a training run folder (its best.keras), a .keras file or a .tflite export "
                        "(default: the packaged FERNet-S)")
    parser.add_argument("--fast", action="store_true",
                        help="the packaged FERNet-S's int8 TFLite copy: about 4x less CPU per face, the same accuracy "
                        "on FER2013; one view per face unless --tta (about 2 points below the default on photos)")
    parser.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                        help="face detector (default: %(default)s)")
    parser.add_argument("--tta", metavar="MODE",
                        help="test-time augmentation: none, flip (2x) or crops (10x) (default: flip; none with --fast)")
    parser.add_argument("--max-upload-mb", type=positive(float), default=10,
                        help="largest request body in MB, refused before it is read (default: %(default)s)")
    parser.add_argument("--max-images", type=positive(int), default=16,
                        help="most images in one request (default: %(default)s)")
    parser.add_argument("--max-pixels", type=positive(int), default=40_000_000,
                        help="most pixels in one image, checked from its header before decoding "
                        "(default: %(default)s)")
    args = parser.parse_args(argv)
    if args.tta is not None:
        check_tta(args.tta)
    if args.fast and args.model:
        parser.error("--fast chooses the packaged model's int8 copy: drop --model, or drop --fast")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {args.port}")
    if not args.host.strip():
        parser.error("--host is empty")
    if args.model:
        path = Path(args.model)
        args.model = path / "best.keras" if path.is_dir() else path
        if not args.model.is_file():
            raise FERError(f"--model {path}: {'run folder without best.keras' if path.is_dir() else 'no such file'}")
    missing = [package for module, package in SERVE_MODULES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise FERError(f"the web app needs {', '.join(missing)}: pip install 'fer_keras[serve]'")
    return args


def bind(host, port):
    """A socket bound to ``host:port`` (before the model loads, so a port in use fails at once)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        raise FERError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    return sock


@user_errors_exit
def main(argv=None):
    args = parse_args(argv)
    sock = bind(args.host, args.port)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: anyone who can reach it can use the API (no authentication)",
              file=sys.stderr)
    import uvicorn

    from fer_keras.inference.predict import EmotionRecognizer

    start = time.perf_counter()
    recognizer = EmotionRecognizer(args.model, detector=args.detector, tta=args.tta, fast=args.fast)
    if args.model:
        name, card = (args.model.parent.name if args.model.name == "best.keras" else args.model.name), None
    else:
        name, card = ("FERNet-S int8 TFLite" if args.fast else "FERNet-S"), packaged_card(args.fast)
    settings = {"detector": args.detector, "fast": args.fast}
    limits = Limits(int(args.max_upload_mb * 2**20), args.max_images, args.max_pixels)
    app = create_app(recognizer, limits, model_info(recognizer, name, card, settings))
    sock.listen(2048)  # connections queue from now on: the line below is true when printed
    host, port = sock.getsockname()[:2]
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
    print(f"serving {name} on {url} (API docs: {url}docs; loaded in {time.perf_counter() - start:.1f} s); "
          "Ctrl-C stops", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
    # uvicorn re-raises the Ctrl-C it shut down on (→ 130 through user_errors_exit); when that re-raise is lost (seen
    # once under load), a shutdown it was asked for still ends as Ctrl-C ends the other commands
    return 130 if server.should_exit else 0
