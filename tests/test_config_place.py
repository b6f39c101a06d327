"""The typed reader's places and plain text: a place spells its path only when an error
needs it, and the quick check of plain text agrees with the character categories."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from cloud_sync.contract.ids import plain_text
from cloud_sync.contract.place import Place

MAC = "A4:C1:38:00:00:01"


@pytest.mark.parametrize(("place", "path"), [
    (Place("hub.toml"), ""),
    (Place("hub.toml").key("watches").index(2).key("key"), "watches[2].key"),
    (Place("keys.toml").key("keys").key(MAC), f'keys."{MAC}"'),
    (Place("hub.toml").key("幸福里"), '"幸福里"'),
    (Place("roster.toml").index(0), "[0]"),
    (Place("hub.toml", "supervision").key("silent_s"), "supervision.silent_s"),
    (Place("hub.toml").key("panel").key("pull_cords").index(1).key("pin"),
     "panel.pull_cords[1].pin"),
])
def test_a_place_spells_its_dotted_path(place: Place, path: str) -> None:
    assert place.path == path
    assert str(place) == (f"{place.source}: {path}" if path else place.source)


def test_an_error_names_the_file_and_the_key() -> None:
    error = Place("hub.toml").key("contacts").index(0).key("tier").error("expected 1 to 99")
    assert str(error) == "hub.toml: contacts[0].tier: expected 1 to 99"


def test_places_are_equal_when_they_name_the_same_value() -> None:
    built = Place("hub.toml").key("watches").index(2)
    written = Place("hub.toml", "watches[2]")
    assert built == written and hash(built) == hash(written)
    assert built != Place("other.toml", "watches[2]")
    assert built != Place("hub.toml").key("watches").index(3)
    assert repr(written) == "Place(source='hub.toml', path='watches[2]')"


def test_plain_text_agrees_with_the_categories_for_every_character() -> None:
    refused = {"Cc", "Cf", "Cs"}
    disagree = [hex(code) for code in range(sys.maxunicode + 1)
                if plain_text(chr(code)) == (unicodedata.category(chr(code)) in refused)]
    assert disagree == []


@pytest.mark.parametrize(("text", "plain"), [
    ("王秀英 301", True),
    ("幸福里\u3000小区", True),      # ideographic space: a separator, allowed
    ("no\u00a0break", True),
    ("line\nbreak", False),
    ("zero\u200bwidth", False),
    ("\u202eevil", False),
])
def test_plain_text_of_whole_strings(text: str, plain: bool) -> None:
    assert plain_text(text) is plain
