from tests.dashboard.conftest import Browser
from tests.factories import Resident


async def test_smoke(browser: Browser, coordinator: Resident) -> None:
    r = await browser.sign_in(coordinator.uid)
    assert r.status_code == 303, r.text
    for path in ["/dashboard/", "/dashboard/campaigns/demo-kranj-active-travel", "/dashboard/campaigns/mobility-contest-2027",
                 "/dashboard/campaigns/mobility-contest-2027/edit", "/dashboard/campaigns/new", "/dashboard/held-entries",
                 "/dashboard/cities/kranj/impact", "/dashboard/campaigns/mobility-contest-2027/broadcast",
                 "/dashboard/cities/kranj/impact.csv", "/dashboard/campaigns/mobility-contest-2027/recognition.csv"]:
        r = await browser.get(path)
        print(path, r.status_code, len(r.text))
        assert r.status_code in (200, 404), r.text[-3000:]
