"""The dashboard's words in Slovenian and English.

One table, key to (Slovenian, English): a page is translated entirely or a test
fails (``tests/dashboard``). Texts residents wrote (campaign titles) keep their
own languages; numbers and dates follow the language too.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

Language = Literal["sl", "en"]
LANGUAGES: tuple[Language, ...] = ("sl", "en")

TEXTS: dict[str, tuple[str, str]] = {
    "app": ("Nadzorna plošča UP-SCALE", "UP-SCALE dashboard"),
    "skip": ("Skoči na vsebino", "Skip to content"),
    "campaigns": ("Kampanje", "Campaigns"),
    "held_entries": ("Zadržani vnosi", "Held entries"),
    "impact": ("Vpliv mesta", "City impact"),
    "sign_in": ("Prijava", "Sign in"),
    "sign_out": ("Odjava", "Sign out"),
    "signed_in_as": ("Prijavljeni kot", "Signed in as"),
    "sign_in_intro": (
        "Nadzorna plošča je za koordinatorje kampanj mest in skrbnike.",
        "The dashboard is for cities' campaign coordinators and administrators.",
    ),
    "sign_in_with_google": ("Prijava z Googlom", "Sign in with Google"),
    "sign_in_email": ("E-pošta", "Email"),
    "sign_in_password": ("Geslo", "Password"),
    "dev_sign_in": (
        "Prijava v razvojnem načinu (emulator Firebase Auth)",
        "Development sign-in (Firebase Auth emulator)",
    ),
    "dev_uid": ("Uporabnik (uid)", "User (uid)"),
    "dev_hint": (
        "V razvoju se lahko prijavi vsak uid z vlogo koordinatorja, npr. demo-coordinator-kranj.",
        "In development any uid with the coordinator role signs in, e.g. demo-coordinator-kranj.",
    ),
    "not_staff": (
        "Ta račun ni koordinator nobenega mesta in ni skrbnik.",
        "This account coordinates no city and is not an administrator.",
    ),
    "bad_token": ("Prijava ni uspela: ", "Sign-in failed: "),
    "session_ended": ("Seja je potekla; prijavite se znova.", "Your session has ended; please sign in again."),
    "forbidden": ("Dostop zavrnjen", "Access refused"),
    "not_found": ("Ni najdeno", "Not found"),
    "error": ("Napaka", "Error"),
    "back": ("Nazaj na kampanje", "Back to campaigns"),
    "my_campaigns": ("Kampanje mojega mesta", "My city's campaigns"),
    "new_campaign": ("Nova kampanja", "New campaign"),
    "no_campaigns": ("Ni še kampanj.", "No campaigns yet."),
    "campaign": ("Kampanja", "Campaign"),
    "city": ("Mesto", "City"),
    "phase": ("Faza", "Phase"),
    "period": ("Obdobje", "Period"),
    "enrolled": ("Prijavljenih", "Enrolled"),
    "active_this_week": ("Aktivnih ta teden", "Active this week"),
    "phase_draft": ("osnutek", "draft"),
    "phase_scheduled": ("načrtovana", "scheduled"),
    "phase_active": ("poteka", "active"),
    "phase_ended": ("končana", "ended"),
    "phase_archived": ("arhivirana", "archived"),
    "edit": ("Uredi", "Edit"),
    "broadcast": ("Sporočilo udeležencem", "Message participants"),
    "left": ("Odjavljenih", "Left"),
    "active_residents": ("Aktivnih udeležencev", "Active participants"),
    "active_per_day": ("Aktivni udeleženci na dan", "Active participants per day"),
    "co2e_per_week": ("kg CO2e na teden po kategorijah", "kg CO2e per week by category"),
    "retention": ("Tedenska zvestoba po kohortah prijave", "Weekly retention by enrolment cohort"),
    "cohort": ("Kohorta (teden prijave)", "Cohort (week enrolled)"),
    "week": ("Teden", "Week"),
    "day": ("Dan", "Day"),
    "residents": ("udeležencev", "participants"),
    "data_table": ("Podatki v tabeli", "The data as a table"),
    "no_data": ("Še ni podatkov.", "No data yet."),
    "recognition": ("Priznanja ekipam in ustanovam", "Team and institution recognition"),
    "recognition_intro": (
        "Ekipa je priznana, ko vsaj zahtevani delež njenih članov izpolni pravilo za člane.",
        "A team is recognised when at least the required share of its members meets the member rule.",
    ),
    "required_share": ("Zahtevani delež", "Required share"),
    "team": ("Ekipa", "Team"),
    "kind": ("Vrsta", "Kind"),
    "members": ("Članov", "Members"),
    "members_meeting": ("Izpolnjuje pravilo", "Meeting the rule"),
    "share": ("Delež", "Share"),
    "met": ("Priznana", "Recognised"),
    "met_since": ("Od", "Since"),
    "yes": ("da", "yes"),
    "no": ("ne", "no"),
    "teams_met": ("Priznanih ekip", "Teams recognised"),
    "badge_every_member": ("značko dobijo vsi člani", "every member earns the badge"),
    "badge_members_meeting_rule": (
        "značko dobijo le člani, ki izpolnijo pravilo",
        "only members who meet the rule earn the badge",
    ),
    "download_csv": ("Prenesi CSV", "Download CSV"),
    "goals": ("Skupni cilji", "Collective goals"),
    "whole_campaign": ("vsi udeleženci", "everyone"),
    "contest": ("Tekmovanje mest", "The cities' contest"),
    "teams_ranking": ("Ekipe po merilu kampanje", "Teams by the campaign's measure"),
    "rank": ("Mesto na lestvici", "Rank"),
    "value": ("Vrednost", "Value"),
    "points": ("Točke", "Points"),
    "measure": ("Merilo", "Measure"),
    "computed_at": ("Izračunano", "Computed"),
    "scored_at": ("Točke izračunane", "Scored"),
    "not_yet": ("še ne", "not yet"),
    "refresh": ("Osveži", "Refresh"),
    # held entries
    "held_intro": (
        "Dnevni seštevki nad verjetno mejo ne štejejo, dokler jih ne sprejmete.",
        "Day totals over a plausible limit count for nothing until you accept them.",
    ),
    "status": ("Stanje", "Status"),
    "status_pending": ("čaka", "pending"),
    "status_accepted": ("sprejet", "accepted"),
    "status_rejected": ("zavrnjen", "rejected"),
    "all": ("vsi", "all"),
    "resident": ("Udeleženec", "Resident"),
    "action_type": ("Dejanje", "Action"),
    "quantity": ("Količina", "Quantity"),
    "plausible": ("Verjetna meja na dan", "Plausible per day"),
    "flagged_at": ("Zadržan", "Held"),
    "decide": ("Odločitev", "Decision"),
    "accept": ("Sprejmi", "Accept"),
    "reject": ("Zavrni", "Reject"),
    "note": ("Opomba", "Note"),
    "next_page": ("Naslednja stran", "Next page"),
    "no_entries": ("Ni zadržanih vnosov.", "No held entries."),
    # editor
    "editor": ("Urejanje kampanje", "Edit campaign"),
    "save": ("Shrani", "Save"),
    "saved": ("Shranjeno.", "Saved."),
    "fix_errors": ("Popravite označena polja.", "Please correct the fields marked."),
    "from_file": (
        "Ta kampanja je opisana v datoteki pod campaigns/ in se spreminja tam (pregled kot koda).",
        "This campaign is defined in a file under campaigns/ and is changed there (reviewed like code).",
    ),
    "texts": ("Besedila", "Texts"),
    "code": ("Koda", "Code"),
    "title_sl": ("Naslov (slovensko)", "Title (Slovenian)"),
    "title_en": ("Naslov (angleško)", "Title (English)"),
    "description_sl": ("Opis (slovensko)", "Description (Slovenian)"),
    "description_en": ("Opis (angleško)", "Description (English)"),
    "starts_on": ("Začetek", "Starts on"),
    "ends_on": ("Konec (vključno)", "Ends on (included)"),
    "lifecycle": ("Objava", "Publication"),
    "enrolment": ("Prijava", "Enrolment"),
    "invite_code": ("Koda povabila", "Invite code"),
    "residents_create_teams": ("Udeleženci lahko ustanovijo ekipe", "Residents may start teams"),
    "actions_points": ("Dejanja in točke", "Actions and points"),
    "points_per_unit": ("Točk na enoto", "Points per unit"),
    "max_points_per_day": ("Največ točk na dan", "At most points a day"),
    "teams": ("Ekipe", "Teams"),
    "name": ("Ime", "Name"),
    "member_quota": ("Največ članov", "At most members"),
    "challenges": ("Izzivi", "Challenges"),
    "rule": ("Pravilo", "Rule"),
    "member_rule": ("Pravilo za člane", "Member rule"),
    "target": ("Cilj", "Target"),
    "window": ("Okno", "Window"),
    "days": ("Dni", "Days"),
    "scope": ("Obseg", "Scope"),
    "question": ("Vprašanje", "Question"),
    "action_types": ("Dejanja", "Action types"),
    "categories": ("Kategorije", "Categories"),
    "badge_to": ("Značka za", "Badge to"),
    "ranking": ("Razvrščanje ekip in mest", "Ranking of teams and cities"),
    "add_action": ("Dodaj dejanje", "Add an action"),
    "add_team": ("Dodaj ekipo", "Add a team"),
    "add_challenge": ("Dodaj izziv", "Add a challenge"),
    "remove": ("Odstrani", "Remove"),
    "fraction_hint": ("delež kot ulomek: 0,5 je polovica", "a fraction: 0.5 is half"),
    # broadcast
    "broadcast_intro": (
        "Sporočilo gre v nabiralnik udeležencev in kot potisno obvestilo; veljajo tihe ure in dnevna omejitev.",
        "The message goes to participants' inboxes and as a push notification; quiet hours and the daily cap apply.",
    ),
    "message_title_sl": ("Naslov (slovensko)", "Title (Slovenian)"),
    "message_title_en": ("Naslov (angleško)", "Title (English)"),
    "message_body_sl": ("Besedilo (slovensko)", "Text (Slovenian)"),
    "message_body_en": ("Besedilo (angleško)", "Text (English)"),
    "segment": ("Prejemniki", "Recipients"),
    "everyone": ("vsi udeleženci", "every participant"),
    "only_team": ("Samo ekipa", "Only the team"),
    "inactive_days": ("Brez vnosa vsaj toliko dni", "Inactive for at least this many days"),
    "preview": ("Predogled", "Preview"),
    "send": ("Pošlji", "Send"),
    "recipients": ("prejemnikov", "recipients"),
    "sent": ("Poslano", "Sent"),
    "will_reach": ("Sporočilo bo prejelo", "The message will reach"),
    # impact
    "impact_of": ("Vpliv mesta", "Impact of"),
    "from_month": ("Od meseca", "From month"),
    "to_month": ("Do meseca", "To month"),
    "show": ("Prikaži", "Show"),
    "co2e_avoided": ("Izogibljeno kg CO2e", "kg CO2e avoided"),
    "actions": ("Dejanj", "Actions"),
    "participants": ("Udeležencev", "Participants"),
    "climate_target": ("Podnebni cilj mesta", "The city's climate target"),
    "of_target": ("cilja", "of the target"),
    "no_target": ("Mesto nima podnebnega cilja.", "The city has no climate target."),
    "per_month": ("kg CO2e na mesec po kategorijah", "kg CO2e per month by category"),
    "month": ("Mesec", "Month"),
    "kind_team_participation": ("delež ekipe izpolni pravilo", "a share of the team meets a rule"),
    "kind_quantity": ("količina v oknu", "a quantity within a window"),
    "kind_distinct_days": ("število različnih dni", "a number of different days"),
    "kind_collective": ("skupni cilj", "a collective goal"),
    "kind_personal": ("osebni cilj iz izhodišča", "a personal goal from the baseline"),
    "cat_mobility": ("mobilnost", "mobility"),
    "cat_energy": ("energija", "energy"),
    "cat_food": ("hrana", "food"),
    "cat_waste": ("odpadki", "waste"),
    "cat_consumption": ("potrošnja", "consumption"),
    "cat_water": ("voda", "water"),
    "cat_other": ("drugo", "other"),
}


def text(language: Language, key: str) -> str:
    """The text of ``key`` in ``language``; an unknown key raises (a page never shows a key)."""
    sl, en = TEXTS[key]
    return sl if language == "sl" else en


def pick_language(asked: str | None, accept_language: str) -> Language:
    """``asked`` when it is a dashboard language, else the first of Accept-Language we speak, else Slovenian."""
    if asked in LANGUAGES:
        return "sl" if asked == "sl" else "en"
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return "sl" if tag == "sl" else "en"
    return "sl"


def localized(texts: object, language: str) -> str:
    """A text given per language in ``language``, English when it lacks that one."""
    if not isinstance(texts, dict):
        return str(texts)
    return str(texts.get(language) or texts.get("en") or next(iter(texts.values()), ""))


def day(value: date, language: Language) -> str:
    """A date as each language writes it: 2. 3. 2027, or 2 Mar 2027."""
    if language == "sl":
        return f"{value.day}. {value.month}. {value.year}"
    return value.strftime("%-d %b %Y")


def figure(value: float, language: Language, decimals: int = 1) -> str:
    """A number with the language's separators: 1.234,5 or 1,234.5."""
    shown = f"{value:,.{decimals}f}"
    if language == "sl":
        shown = shown.replace(",", " ").replace(".", ",").replace(" ", ".")
    return shown
