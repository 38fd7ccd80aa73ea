"""The public-domain dlib pack through the whole product: a real face-service process
started with FACE_MODEL=dlib, a backend on that pack, a kiosk that syncs its 128-d
templates, recognises a face, and has its check-in accepted (the server re-embeds the
evidence crop with the same recogniser)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.device.credentials import CredentialStore
from kiosk.inference.engine import FaceEngine
from kiosk.inference.packs import resolve_pack
from server.backend.core.config import Settings
from tests.kiosk.backend import LiveBackend, live_backend
from tests.kiosk.syncing.test_sync import Kiosk, paired

pytestmark = [pytest.mark.network, pytest.mark.model, pytest.mark.slow]


@pytest.fixture(scope="module")
def dlib_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.face_service.conftest import (  # noqa: PLC0415
        ServiceProcess,
        answers_healthy,
        clean_env,
        wait_until,
    )

    tmp = tmp_path_factory.mktemp("dlib-face-service")
    env = clean_env(FACE_MODEL="dlib", FACE_MODEL_CACHE=str(tmp / "cache"), OMP_NUM_THREADS="1")
    service = ServiceProcess(env, tmp / "face-service.log")
    try:
        wait_until(lambda: answers_healthy(service.url), 120, f"the face-service\n{service.log()}")
        yield service.url
    finally:
        service.stop()


@pytest.fixture(scope="module")
def dlib_engine(tmp_path_factory: pytest.TempPathFactory) -> FaceEngine:
    pack = resolve_pack("dlib", cache_dir=tmp_path_factory.mktemp("cache"))
    return FaceEngine.load(pack, warm_up_sizes=())


def test_a_kiosk_on_the_dlib_pack_syncs_recognises_and_checks_in(
    tmp_path: Path,
    credentials: CredentialStore,
    dlib_engine: FaceEngine,
    pg_settings: Settings,
    clean_env: None,
    dlib_service: str,
) -> None:
    settings = pg_settings.model_copy(
        update={"face_model": "dlib", "face_service_url": dlib_service}
    )
    kiosk = Kiosk(tmp_path / "kiosk", credentials, dlib_engine)
    with live_backend(settings) as backend:
        assert isinstance(backend, LiveBackend)
        obama = backend.member("Barack Obama", dlib_engine, "obama", "obama2")
        biden = backend.member("Joe Biden", dlib_engine, "biden")
        meeting = backend.meeting()
        syncer = paired(kiosk, backend)
        syncer.sync_once()
        assert kiosk.status.snapshot.gallery_size == 3 and kiosk.status.snapshot.model_matches
        gallery = kiosk.store.gallery_for(meeting)
        assert gallery.dimension == 128 and gallery.person_ids == {obama, biden}
        checkin, kind = kiosk.check_in(meeting, "obama3")
        assert (str(checkin.member_id), kind) == (obama, "recorded")
        assert checkin.similarity is not None
        assert checkin.similarity >= dlib_engine.thresholds.accept
        syncer.sync_once()
        assert kiosk.store.outbox_counts() == {"done": 1}
        assert backend.count("SELECT count(*) FROM attendance_records") == 1
        assert (
            backend.count("SELECT count(*) FROM face_templates WHERE model_id LIKE 'dlib@%'") == 3
        )
    kiosk.store.close()
