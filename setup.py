"""Packaging for the Viatique XBlock (paper exam grading for Open edX)."""
import os
import re

from setuptools import find_namespace_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read(*parts):
    with open(os.path.join(HERE, *parts), encoding="utf-8") as handle:
        return handle.read()


def version():
    match = re.search(r'^__version__ = "([^"]+)"', read("viatique_xblock", "__init__.py"), re.M)
    return match.group(1)


setup(
    name="viatique-xblock",
    version=version(),
    description="Grade scanned paper exams inside Open edX: split, identify, annotate, grade, release.",
    long_description=read("README.md"),
    long_description_content_type="text/markdown",
    license="AGPL-3.0",
    # namespace packages: the data folders (static/, templates/, translations/) are packages too, so
    # setuptools builds them without a warning per folder
    packages=find_namespace_packages(include=["viatique_xblock", "viatique_xblock.*"]),
    # the packages are at the project's top: an editable install is then a plain .pth entry (no import
    # hook, and no "Editable installation" notice from setuptools)
    package_dir={"": "."},
    include_package_data=True,
    package_data={
        "viatique_xblock": [
            "static/*/*",
            "templates/*.html",
            "translations/*/LC_MESSAGES/*",
        ],
    },
    python_requires=">=3.11",
    install_requires=[
        # Ranges that accept every version the Open edX releases pin, so that installing the plugin
        # changes none of the platform's packages (requirements/teak.txt, requirements/current.txt):
        # Teak pins Django 4.2, XBlock 5.2, edx-submissions 3.11, edx-opaque-keys 3.0, celery 5.5,
        # redis 6.2, Pillow 11.2; the current line Django 5.2, XBlock 5.3, edx-submissions 3.12,
        # edx-opaque-keys 3.0, celery 5.6, redis 7.1, Pillow 12.1. No lower bound above what Teak pins.
        "Django>=4.2,<6.0",
        # XBlock brings web_fragments: as the web-fragments package up to 6.1, inside itself from 6.2
        "XBlock>=5.2,<7",
        "celery>=5.3,<6",
        # only to withdraw scores that versions before 0.2 published through it (docs/operations.md)
        "edx-submissions>=3.11,<5",
        "edx-opaque-keys>=2.5,<5",
        # leases and lockout run Lua scripts on the cache's redis-py client; the cache itself is the
        # platform's (django-redis, as in Tutor, or Django's own RedisCache): no django-redis required
        "redis>=4.5",
        # PyMuPDF 2.x drags in layout-analysis models (onnxruntime); the 1.x line is all we use.
        "PyMuPDF>=1.24,<2",
        # Unicode fonts (FiraGO, Noto Sans Math) embedded in the graded PDFs, the same on every machine
        "pymupdf-fonts>=1.0.5",
        "zxing-cpp>=2.2",
        "segno>=1.6",
        # JPEG encoding of rendered pages and fast thumbnails (Open edX ships it already)
        "Pillow>=10",
    ],
    extras_require={
        "demo": [
            # the workbench host: 0.14 is the last release for Python 3.11; its app needs XBlock's
            # django extra (openedx-django-pyfs, lazy)
            "xblock-sdk>=0.14",
            "XBlock[django]>=5.2,<7",
            "django-redis>=5.4",
            "gunicorn>=22",
            "whitenoise>=6.6",
            "dj-database-url>=2.1",
            "mysqlclient>=2.2",
            "psycopg[binary]>=3.1",
            # files on S3 (S3_BUCKET): the storage Open edX itself uses for S3 and MinIO
            "django-storages>=1.14",
            "boto3>=1.26",
        ],
        "test": [
            "pytest>=8",
            "pytest-django>=4.8",
            "playwright>=1.45",
            "pypdf>=4",
            "openpyxl>=3.1",
            # the platform's monitoring (custom attributes, spans) and client-address functions, which
            # the LMS has: the suite runs the plugin against them (pinned per release in requirements/)
            "edx-django-utils>=7",
            # the stages' import contracts (.importlinter), checked by the suite
            "import-linter>=2.1",
            # property-based tests: generated input sent to every handler (tests/unit/test_handler_inputs.py)
            "hypothesis>=6.100",
            # an S3-API server on this machine for the S3 integration test (moto_server): the S3
            # part of moto and its server's Flask, not every AWS service of moto[server]
            "moto[s3]>=5",
            "flask>=3",
            "flask-cors>=4",
            "build>=1.2",
            "setuptools>=69",
            "wheel>=0.42",
        ],
    },
    entry_points={
        "xblock.v1": [
            "viatique = viatique_xblock.block:ViatiqueXBlock",
        ],
        "lms.djangoapp": [
            "viatique_xblock = viatique_xblock.apps:ViatiqueConfig",
        ],
        "cms.djangoapp": [
            "viatique_xblock = viatique_xblock.apps:ViatiqueConfig",
        ],
    },
    classifiers=[
        "Framework :: Django",
        "Framework :: Django :: 4.2",
        "Framework :: Django :: 5.2",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
    ],
)
