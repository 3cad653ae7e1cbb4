"""A roster CSV an instructor uploads to add display details to the course's learners (public API).

Columns: a username or an email, then a name (a header row is recognised and
skipped). UTF-8 (with or without BOM) or Latin-1; comma or semicolon. A
malformed file is refused with the line and the reason, and nothing is kept.
"""
import csv
import io

from viatique_xblock.errors import ViatiqueError
from viatique_xblock.i18n import N_

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20000
HEADER_WORDS = {"username", "email", "e-mail", "mail", "name", "nom", "identifiant", "login", "full name"}


class RosterCsvError(ViatiqueError):
    code = "roster_csv_invalid"
    status = 400

    def __init__(self, message, line=None, **params):
        self.line = line
        super().__init__(message, line=line, **params)

    def extra(self):
        return {"line": self.line}


def _text(data):
    if len(data) > MAX_BYTES:
        raise RosterCsvError(N_("The roster file is larger than {limit} MB."), limit=MAX_BYTES // 1024 // 1024)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse(data):
    """``[(key, name), ...]`` from the CSV bytes; ``key`` is a username or an email."""
    text = _text(data)
    if not text.strip():
        raise RosterCsvError(N_("The roster file is empty."))
    first_line = text.splitlines()[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    rows = []
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and {cell.casefold() for cell in cells} & HEADER_WORDS:
            continue
        if len(cells) < 2 or not cells[0] or not cells[1]:
            raise RosterCsvError(N_("Line {line}: expected a username or an email, then a name."), line=number)
        if len(cells[0]) > 254 or len(cells[1]) > 255:
            raise RosterCsvError(N_("Line {line}: a value is too long."), line=number)
        rows.append((cells[0], cells[1]))
        if len(rows) > MAX_ROWS:
            raise RosterCsvError(N_("The roster has more than {limit} lines."), limit=MAX_ROWS)
    if not rows:
        raise RosterCsvError(N_("The roster file has no learner."))
    return rows


def apply(learners, details):
    """The learners with the names of ``details`` (``{username or lowercased email: name}``)."""
    from dataclasses import replace

    return [replace(learner, name=details.get(learner.username) or details.get((learner.email or "").casefold())
                    or learner.name) for learner in learners]


def details_from(rows, learners):
    """Keep the rows that name an enrolled learner; return ``(details, unknown keys)``."""
    usernames = {learner.username for learner in learners}
    emails = {(learner.email or "").casefold() for learner in learners} - {""}
    details, unknown = {}, []
    for key, name in rows:
        folded = key.casefold()
        if key in usernames:
            details[key] = name
        elif folded in emails:
            details[folded] = name
        else:
            unknown.append(key)
    return details, unknown
