"""Face templates: AES-256-GCM bound to their row, model identity, duplicates, erasure."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient

from server.backend.core.config import Settings
from server.backend.core.security.templates import TemplateCipher
from server.backend.crud.templates import open_row
from server.backend.errors import TemplateDecryptionError
from server.backend.models import FaceTemplate
from server.backend.tasks.admin import reencrypt_templates
from sonta.cli import main
from tests.server.utils import admin_headers, backend_of

RNG = np.random.default_rng(7)


def _face() -> list[float]:
    vector = RNG.normal(size=512)
    return [float(x) for x in vector / np.linalg.norm(vector)]


def _similar(face: list[float], noise: float = 0.3) -> list[float]:
    vector = np.asarray(face) + noise * RNG.normal(size=512) / np.sqrt(512)
    return [float(x) for x in vector / np.linalg.norm(vector)]


def _member(client: TestClient, headers: dict[str, str], name: str, consent: bool = True) -> str:
    member = client.post(
        "/api/members", json={"full_name": name, "ministry": "Choir"}, headers=headers
    ).json()
    if consent:
        client.put(f"/api/members/{member['id']}/consent", json={"given": True}, headers=headers)
    return str(member["id"])


def _enrol(
    client: TestClient,
    headers: dict[str, str],
    member_id: str,
    face: list[float],
    model_id: str | None = None,
) -> object:
    model = model_id or backend_of(client).face_model.model_id
    return client.post(
        f"/api/members/{member_id}/templates",
        json={"embedding": face, "model_id": model},
        headers=headers,
    )


def _row(client: TestClient, template_id: str) -> FaceTemplate:
    with backend_of(client).sessions() as session:
        row = session.get(FaceTemplate, uuid.UUID(template_id))
        assert row is not None
        return row


def test_enrolment_stores_an_encrypted_template_and_lists_metadata_only(
    any_client: TestClient,
) -> None:
    headers = admin_headers(any_client)
    member_id = _member(any_client, headers, "Ama")
    face = _face()
    response = _enrol(any_client, headers, member_id, face)
    assert response.status_code == 201, response.text
    template = response.json()
    assert set(template) == {"id", "member_id", "model_id", "key_version", "created_at"}
    row = _row(any_client, template["id"])
    assert len(row.nonce) == 12
    assert np.asarray(face, dtype=np.float32).tobytes() not in row.ciphertext
    opened = open_row(backend_of(any_client).cipher, row)
    assert np.allclose(opened, face, atol=1e-6)
    listed = any_client.get(f"/api/members/{member_id}/templates", headers=headers).json()
    assert [t["id"] for t in listed] == [template["id"]]


def test_ciphertext_moved_to_another_row_fails_to_decrypt(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    ama, kofi = _member(any_client, headers, "Ama"), _member(any_client, headers, "Kofi")
    first = _enrol(any_client, headers, ama, _face()).json()["id"]
    second = _enrol(any_client, headers, kofi, _face()).json()["id"]
    cipher = backend_of(any_client).cipher
    with backend_of(any_client).sessions() as session:
        a = session.get(FaceTemplate, uuid.UUID(first))
        b = session.get(FaceTemplate, uuid.UUID(second))
        assert a is not None and b is not None
        b.nonce, b.ciphertext = a.nonce, a.ciphertext  # Ama's face copied onto Kofi's row
        session.commit()
        with pytest.raises(TemplateDecryptionError, match="does not belong to this row"):
            open_row(cipher, b)
        a.model_id = "buffalo_s@0000000000000000"  # relabelled as another model's output
        with pytest.raises(TemplateDecryptionError):
            open_row(cipher, a)


def test_each_encryption_uses_a_fresh_nonce() -> None:
    cipher = TemplateCipher("k" * 16 + "0123456789abcdef")
    face = np.asarray(_face(), dtype=np.float32)
    ids = {"member_id": uuid.uuid4(), "template_id": uuid.uuid4(), "model_id": "m"}
    one, two = cipher.seal(face, **ids), cipher.seal(face, **ids)  # type: ignore[arg-type]
    assert one.nonce != two.nonce
    assert one.ciphertext != two.ciphertext


def test_enrolment_needs_consent(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    member_id = _member(any_client, headers, "No consent", consent=False)
    response = _enrol(any_client, headers, member_id, _face())
    assert response.status_code == 409
    assert "consent" in response.json()["detail"]


def test_embedding_from_another_model_is_refused_with_an_explanation(
    any_client: TestClient,
) -> None:
    headers = admin_headers(any_client)
    member_id = _member(any_client, headers, "Ama")
    response = _enrol(
        any_client, headers, member_id, _face(), model_id="buffalo_s@9cc6e4a75f0e2bf0"
    )
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "buffalo_s@9cc6e4a75f0e2bf0" in detail
    assert "enrol again" in detail
    assert "re-embedding" in detail


def test_same_face_under_another_member_is_a_conflict_naming_them(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    ama, kofi = _member(any_client, headers, "Ama Mensah"), _member(any_client, headers, "Kofi")
    face = _face()
    assert _enrol(any_client, headers, ama, face).status_code == 201
    clash = _enrol(any_client, headers, kofi, _similar(face))
    assert clash.status_code == 409
    assert "Ama Mensah" in clash.json()["detail"]["message"]
    assert clash.json()["detail"]["member_id"] == ama
    # The same person may hold several templates; a different face is fine for Kofi.
    assert _enrol(any_client, headers, ama, _similar(face)).status_code == 201
    assert _enrol(any_client, headers, kofi, _face()).status_code == 201


def test_bad_embeddings_are_refused(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    member_id = _member(any_client, headers, "Ama")
    assert _enrol(any_client, headers, member_id, [0.1] * 511).status_code == 422
    assert _enrol(any_client, headers, member_id, [0.0] * 512).status_code == 422
    model = backend_of(any_client).face_model.model_id
    body = '{"embedding": [' + ",".join(["NaN"] * 512) + f'], "model_id": "{model}"}}'
    response = any_client.post(
        f"/api/members/{member_id}/templates",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert any_client.get(f"/api/members/{member_id}/templates", headers=headers).json() == []


def test_templates_are_erased_one_by_one_or_all_at_once(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    member_id = _member(any_client, headers, "Ama")
    face = _face()
    ids = [_enrol(any_client, headers, member_id, _similar(face)).json()["id"] for _ in range(3)]
    url = f"/api/members/{member_id}/templates"
    assert any_client.delete(f"{url}/{ids[0]}", headers=headers).status_code == 204
    assert any_client.delete(f"{url}/{ids[0]}", headers=headers).status_code == 404
    assert len(any_client.get(url, headers=headers).json()) == 2
    assert any_client.delete(url, headers=headers).json()["detail"] == "Erased 2 face template(s)."
    assert any_client.get(url, headers=headers).json() == []


def test_withdrawing_consent_erases_the_templates(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    member_id = _member(any_client, headers, "Ama")
    _enrol(any_client, headers, member_id, _face())
    any_client.put(f"/api/members/{member_id}/consent", json={"given": False}, headers=headers)
    assert any_client.get(f"/api/members/{member_id}/templates", headers=headers).json() == []


def test_reencrypt_moves_every_template_to_the_new_key(
    client: TestClient,
    pg_settings: Settings,
    server_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = admin_headers(client)
    member_id = _member(client, headers, "Ama")
    face = _face()
    template_id = _enrol(client, headers, member_id, face).json()["id"]
    old_key = pg_settings.embedding_encryption_key
    assert old_key
    new_key = "N" * 8 + uuid.uuid4().hex[:24]
    rotated = {
        **server_env,
        "EMBEDDING_ENCRYPTION_KEY": new_key,
        "EMBEDDING_ENCRYPTION_KEY_PREVIOUS": old_key,
    }
    for name, value in rotated.items():
        monkeypatch.setenv(name, value)
    assert main(["templates", "re-encrypt"]) == 0
    row = _row(client, template_id)
    new_only = TemplateCipher(new_key)
    assert row.key_version == new_only.current_version
    assert np.allclose(open_row(new_only, row), face, atol=1e-6)
    with pytest.raises(TemplateDecryptionError):
        open_row(TemplateCipher(old_key), row)
    # Without the old key configured, a row still under it is reported, not lost silently.
    assert (
        reencrypt_templates(pg_settings.model_copy(update={"embedding_encryption_key": "Z" * 32}))
        == 1
    )
