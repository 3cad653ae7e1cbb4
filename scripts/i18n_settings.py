"""Minimal settings for extracting and compiling the plugin's catalogues (scripts/translations.sh)."""
import os

SECRET_KEY = "i18n"
USE_I18N = True
INSTALLED_APPS = ["demo_host.apps_i18n.I18nToolsConfig"]
LOCALE_PATHS = [os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "viatique_xblock", "translations")]
