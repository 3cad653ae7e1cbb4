"""Packaging for the Viatique XBlock (paper exam grading for Open edX)."""
import os
import re

from setuptools import find_packages, setup

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
    packages=find_packages(include=["viatique_xblock", "viatique_xblock.*"]),
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
        # What the current Open edX release runs; Django 5.2 LTS is the target, 4.2 still works.
        "Django>=4.2,<6.0",
        # XBlock 6.2+ needs Python 3.12 and ships web_fragments itself; on Python 3.11 the 6.1 line,
        # which brings the web-fragments package as its own dependency
        "XBlock>=6.2,<7; python_version >= \"3.12\"",
        "XBlock>=6.1,<6.2; python_version < \"3.12\"",
        "celery>=5.3,<6",
        "edx-submissions>=4,<5",
        "edx-opaque-keys>=2.5",
        # PyMuPDF 2.x drags in layout-analysis models (onnxruntime); the 1.x line is all we use.
        "PyMuPDF>=1.24,<2",
        # Unicode fonts (FiraGO, Noto Sans Math) embedded in the graded PDFs, the same on every machine
        "pymupdf-fonts>=1.0.5",
        "django-redis>=5.4",
        "zxing-cpp>=2.2",
        "segno>=1.6",
        # JPEG encoding of rendered pages and fast thumbnails (Open edX ships it already)
        "Pillow>=10",
    ],
    extras_require={
        "demo": [
            "xblock-sdk>=0.15",
            "gunicorn>=22",
            "whitenoise>=6.6",
            "dj-database-url>=2.1",
            "redis>=5",
            "mysqlclient>=2.2",
            "psycopg[binary]>=3.1",
        ],
        "test": [
            "pytest>=8",
            "pytest-django>=4.8",
            "playwright>=1.45",
            "pypdf>=4",
            "openpyxl>=3.1",
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
