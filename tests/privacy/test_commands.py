"""``upscale privacy export|erase``: a data request that reached the operator, answered as the app's calls are."""

from __future__ import annotations

import msgspec

from tests.conftest import MakeResident
from tests.factories import assert_problem
from tests.plumbing.test_cli import upscale
from upscale_api.privacy.structs import ResidentExport


async def test_an_operator_exports_then_erases_a_person(make_resident: MakeResident, database_url: str) -> None:
    person = await make_resident("kranj", display_name="By letter")
    logged = await person.log()

    exported = upscale("privacy", "export", person.uid, DATABASE_URL=database_url)

    assert exported.returncode == 0, exported.stderr
    document = msgspec.json.decode(exported.stdout, type=ResidentExport)
    assert document.profile.display_name == "By letter"
    assert [str(a.id) for a in document.actions] == [logged.json()["id"]]

    refused = upscale("privacy", "erase", person.uid, DATABASE_URL=database_url)  # no confirmation
    assert refused.returncode != 0
    assert (await person.get("/v1/me")).status_code == 200

    erased = upscale("privacy", "erase", person.uid, "--yes", DATABASE_URL=database_url)

    assert erased.returncode == 0, erased.stderr
    assert f"{person.uid}: erased" in erased.stdout
    assert_problem(await person.get("/v1/me"), 404, "not-registered")
    again = upscale("privacy", "export", person.uid, DATABASE_URL=database_url)
    assert again.returncode == 1 and "not a registered resident" in again.stderr
