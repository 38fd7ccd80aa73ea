"""The face-service's routes against a real `sonta face-service` process (offline pack)."""

from __future__ import annotations

import base64
import io
import json
import struct
import threading
import zlib
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from kiosk.inference.engine import FaceEngine
from kiosk.inference.images import read_image_file
from tests.face_service.conftest import ServiceProcess
from tests.kiosk.conftest import photo_path

pytestmark = [pytest.mark.model, pytest.mark.network, pytest.mark.slow]

VECTRON_ID = "vectron@9cc6e4a75f0e2bf0"


def upload(name: str) -> bytes:
    return photo_path(name).read_bytes()


def files(image: bytes, other: bytes | None = None) -> dict[str, tuple[str, bytes]]:
    parts = {"image": ("photo.jpg", image)}
    if other is not None:
        parts["other"] = ("other.jpg", other)
    return parts


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width``x``height`` pixels but carries almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_health_is_exactly_the_documented_json(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    assert response.content == (
        b'{"status":"healthy","model":"vectron","model_loaded":true,"licence":"non-commercial"}'
    )


def test_start_up_log_names_the_private_address_and_the_model(
    face_service: ServiceProcess,
) -> None:
    log = face_service.log()
    starting = log.index(f"Face service starting on localhost:{face_service.port} (private")
    loading = log.index("Loading face model vectron")
    loaded = log.index("Face model vectron loaded")
    assert starting < loading < loaded


def test_detect_reports_every_face_in_original_pixels(http: httpx.Client) -> None:
    response = http.post("/detect", files=files(upload("t1")))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"pack": "vectron", "model_id": VECTRON_ID}
    assert body["purpose"] == "checkin"
    assert len(body["faces"]) == 6
    for face in body["faces"]:
        x1, y1, x2, y2 = face["bbox"]
        assert 0 <= x1 < x2 <= body["width"] and 0 <= y1 < y2 <= body["height"]
        assert len(face["keypoints"]) == 5
        assert set(face["quality"]["measures"]) >= {"inter_eye_px", "sharpness", "yaw_deg"}


def test_detect_for_enrolment_says_there_are_several_faces(http: httpx.Client) -> None:
    response = http.post(
        "/detect", files=files(upload("t1")), params={"purpose": "enrolment", "det_size": 320}
    )
    assert response.status_code == 200
    assert response.json()["issues"] == ["multiple_faces"]
    assert "More than one face" in response.json()["reasons"][0]


def test_embed_matches_the_bare_engine(http: httpx.Client, offline_engine: FaceEngine) -> None:
    response = http.post("/embed", files=files(upload("obama")))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_id"] == VECTRON_ID
    vector = np.asarray(body["embedding"], dtype=np.float32)
    assert vector.shape == (512,)
    decoded = read_image_file(photo_path("obama"))
    direct = offline_engine.embed_single(decoded.pixels, scale=decoded.scale).embedding
    assert direct is not None
    assert float(np.dot(vector, direct.vector)) > 0.999
    assert body["face"]["quality"]["passed"] is True


def aligned_crop(engine: FaceEngine, name: str) -> tuple[str, np.ndarray]:
    """The photo's face aligned as a kiosk aligns it, as base64 JPEG, and its embedding."""
    decoded = read_image_file(photo_path(name))
    face = engine.embed_single(decoded.pixels, scale=decoded.scale)
    crop = engine.recognizer.align(decoded.pixels, face.face)
    jpeg = encoded(Image.fromarray(crop[:, :, ::-1]), "JPEG")
    assert face.embedding is not None
    return base64.b64encode(jpeg).decode(), face.embedding.vector


def test_embed_aligned_embeds_a_batch_of_kiosk_crops_in_order(
    http: httpx.Client, offline_engine: FaceEngine
) -> None:
    """A backlog of crops in one request; a bad crop is refused alone, with the reason."""
    obama, obama_vector = aligned_crop(offline_engine, "obama")
    biden, biden_vector = aligned_crop(offline_engine, "biden")
    wrong_size = base64.b64encode(encoded(Image.new("RGB", (200, 100)), "PNG")).decode()
    response = http.post("/embed-aligned", json={"crops": [obama, wrong_size, biden, "bm90"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_id"] == VECTRON_ID
    first, bad, second, garbage = body["results"]
    assert float(np.dot(first["embedding"], obama_vector)) > 0.95
    assert float(np.dot(second["embedding"], biden_vector)) > 0.95
    assert bad == {"embedding": None, "error": bad["error"]}
    assert "200x100 pixels; an aligned face crop is 112x112" in bad["error"]
    assert garbage["embedding"] is None and "not an image" in garbage["error"]
    too_many = http.post("/embed-aligned", json={"crops": [obama] * 65})
    assert too_many.status_code == 422


@pytest.mark.parametrize(
    ("name", "issue"), [("t1", "multiple_faces"), ("blank", "no_face")], ids=["several", "none"]
)
def test_enrolment_embed_refuses_anything_but_one_face(
    http: httpx.Client, name: str, issue: str
) -> None:
    image = (
        encoded(Image.new("RGB", (640, 480), (127, 127, 127)), "PNG")
        if name == "blank"
        else upload(name)
    )
    response = http.post("/embed", files=files(image))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["issues"] == [issue]
    assert detail["reasons"] and detail["message"]


def test_checkin_embed_takes_the_largest_face(http: httpx.Client) -> None:
    response = http.post("/embed", files=files(upload("t1")), params={"purpose": "checkin"})
    assert response.status_code == 200, response.text


def test_compare_two_photos(http: httpx.Client) -> None:
    same = http.post("/compare", files=files(upload("obama"), upload("obama2"))).json()
    other = http.post("/compare", files=files(upload("obama"), upload("biden"))).json()
    assert same["best"]["band"] == "accept" and same["best"]["similarity"] > 0.6
    assert other["best"]["band"] == "reject" and other["best"]["similarity"] < 0.3
    assert same["matches"] == [same["best"]] and same["best"]["id"] == "other"


def embedding_of(http: httpx.Client, name: str) -> dict[str, Any]:
    body = http.post("/embed", files=files(upload(name))).json()
    return {"id": name, "model_id": body["model_id"], "vector": body["embedding"]}


def test_compare_against_stored_embeddings(http: httpx.Client) -> None:
    references = [embedding_of(http, "biden"), embedding_of(http, "obama2")]
    response = http.post(
        "/compare", files=files(upload("obama3")), data={"embeddings": json.dumps(references)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [m["id"] for m in body["matches"]] == ["biden", "obama2"]
    assert body["best"]["id"] == "obama2" and body["best"]["band"] == "accept"


def test_compare_refuses_another_recognisers_embeddings(http: httpx.Client) -> None:
    reference = {**embedding_of(http, "obama2"), "model_id": "buffalo_l@4c06341c33c2ca1f"}
    response = http.post(
        "/compare", files=files(upload("obama")), data={"embeddings": json.dumps([reference])}
    )
    assert response.status_code == 409
    assert "different recognisers" in response.json()["detail"]


@pytest.mark.parametrize(
    ("embeddings", "expected"),
    [
        ("not json", "JSON list"),
        ('{"vector": [1]}', "JSON list"),
        (json.dumps([{"model_id": VECTRON_ID, "vector": [0.1, 0.2]}]), "512"),
        (json.dumps([{"model_id": VECTRON_ID, "vector": [0.0] * 512}]), "zero"),
        (json.dumps([{"model_id": VECTRON_ID, "vector": [1.0] * 512}] * 65), "At most 64"),
        ("", "second image or at least one"),
    ],
    ids=["not-json", "not-a-list", "wrong-length", "zero-vector", "too-many", "nothing"],
)
def test_compare_refuses_unusable_embeddings(
    http: httpx.Client, embeddings: str, expected: str
) -> None:
    response = http.post("/compare", files=files(upload("obama")), data={"embeddings": embeddings})
    assert response.status_code == 422
    assert expected in response.json()["detail"]


def bad_uploads() -> dict[str, tuple[bytes, int, str]]:
    """Name -> (bytes, expected status, a fragment of the message)."""
    jpeg = upload("obama")
    return {
        "not-an-image": (b"%PDF-1.4 definitely not a photo", 400, "not an image"),
        "zero-bytes": (b"", 400, "empty"),
        "truncated": (jpeg[: len(jpeg) // 3], 400, "truncated"),
        "enormous-dimensions": (png_header_only(100_000, 100_000), 400, "too many pixels"),
        "beyond-a-camera": (png_header_only(6300, 6300), 400, "too many pixels"),
        "strip": (encoded(Image.new("RGB", (5000, 2)), "PNG"), 400, "too narrow"),
        "gif": (encoded(Image.new("RGB", (64, 64)), "GIF"), 400, "Unsupported image format"),
        "too-many-bytes": (jpeg + b"\0" * (11 * 1024 * 1024), 413, "limit is"),
    }


@pytest.mark.parametrize("case", list(bad_uploads()))
@pytest.mark.parametrize("route", ["/detect", "/embed", "/compare"])
def test_bad_images_get_a_clear_4xx(http: httpx.Client, route: str, case: str) -> None:
    data, status, fragment = bad_uploads()[case]
    response = http.post(route, files=files(data, upload("obama2")))
    assert response.status_code == status, response.text
    assert fragment in response.json()["detail"]


def test_bad_second_image_is_named(http: httpx.Client) -> None:
    response = http.post("/compare", files=files(upload("obama"), b"GIF89a nonsense"))
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The second image:")


def test_body_over_the_limit_is_refused_before_reading_it(http: httpx.Client) -> None:
    response = http.post("/embed", files=files(b"\xff" * (30 * 1024 * 1024)))
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"json": {"image": "aGVsbG8="}}, 422),
        ({"files": {"photo": ("a.jpg", b"x")}}, 422),
        ({"content": b"--x\r\nnonsense", "headers": {"content-type": "multipart/form-data"}}, 400),
        ({"files": {"image": ("a.jpg", b"x")}, "params": {"purpose": "bogus"}}, 422),
        ({"files": {"image": ("a.jpg", b"x")}, "params": {"det_size": "1000000"}}, 422),
    ],
    ids=["json-body", "wrong-field", "broken-multipart", "bad-purpose", "bad-det-size"],
)
def test_malformed_requests_get_a_4xx(http: httpx.Client, kwargs: Any, status: int) -> None:
    assert http.post("/detect", **kwargs).status_code == status


def test_the_service_survives_all_of_it_and_serves_in_parallel(
    http: httpx.Client, face_service: ServiceProcess
) -> None:
    results: list[int] = []

    def embed() -> None:
        results.append(http.post("/embed", files=files(upload("obama2"))).status_code)

    threads = [threading.Thread(target=embed) for _ in range(6)]
    for thread in threads:
        thread.start()
    health = http.get("/health", timeout=5)
    for thread in threads:
        thread.join()
    assert health.status_code == 200
    assert results == [200] * 6
    assert face_service.process.poll() is None
    assert "Traceback" not in face_service.log()
