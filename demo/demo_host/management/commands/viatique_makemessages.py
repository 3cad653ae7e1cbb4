"""``makemessages`` that also extracts strings marked with ``N_()`` (translated where shown)."""
from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = makemessages.Command.xgettext_options + ["--keyword=N_"]
