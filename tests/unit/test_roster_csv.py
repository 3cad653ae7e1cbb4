"""Roster CSVs: UTF-8 or Latin-1, comma or semicolon, refused with the line and reason."""
import pytest
from webob import Request

from tests.unit.test_identification import ROSTER, block
from viatique_xblock.errors import ViatiqueError
from viatique_xblock.identity import roster


@pytest.mark.parametrize("data", [
    "username,name\nlearner_1,Chloé DUBOIS\nleo@example.com,Léo MARTIN\n".encode("utf-8"),
    b"\xef\xbb\xbfidentifiant;nom\nlearner_1;Chlo\xc3\xa9 DUBOIS\nLEO@example.com;L\xc3\xa9o MARTIN\n",
    "learner_1;Chloé DUBOIS\r\nleo@example.com;Léo MARTIN\r\n".encode("latin-1"),
])
def test_encodings_separators_and_headers(data):
    rows = roster.parse(data)
    assert [name for _key, name in rows] == ["Chloé DUBOIS", "Léo MARTIN"]
    details, unknown = roster.details_from(rows + [("ghost", "Nobody")], ROSTER)
    assert details == {"learner_1": "Chloé DUBOIS", "leo@example.com": "Léo MARTIN"} and unknown == ["ghost"]
    assert [learner.name for learner in roster.apply(ROSTER, details)][:2] == ["Chloé DUBOIS", "Léo MARTIN"]


@pytest.mark.parametrize("data, line, fragment", [
    (b"learner_1,Chloe\nlearner_2\n", 2, "expected a username or an email, then a name"),
    (b"username,name\nlearner_1,\n", 2, "expected a username"),
    (b"", None, "empty"),
    (b"username,name\n", None, "no learner"),
])
def test_malformed_files_are_refused_with_the_line(data, line, fragment):
    with pytest.raises(ViatiqueError) as caught:
        roster.parse(data)
    assert caught.value.code == "roster_csv_invalid" and caught.value.line == line
    assert fragment in caught.value.message


@pytest.mark.django_db
def test_upload_handler_renames_learners_at_the_desk():
    instructor = block()
    request = Request.blank("/", method="POST", body="learner_3;DE CHEVALIER Élodie\n".encode())
    response = instructor.handle("upload_roster", request)
    assert response.status_code == 200 and response.json == {"matched": 1, "unknown": []}
    request = Request.blank("/?q=de+chevalier", method="GET")
    results = instructor.handle("roster_search", request).json["results"]
    assert results[0] == {"username": "learner_3", "name": "DE CHEVALIER Élodie", "score": results[0]["score"],
                          "copy": None}
    bad = instructor.handle("upload_roster", Request.blank("/", method="POST", body=b"x\n"))
    assert bad.status_code == 400 and bad.json["line"] == 1
    grader = block("staff_1", "staff")
    assert grader.handle("upload_roster", Request.blank("/", method="POST", body=b"a,b\n")).status_code == 403
