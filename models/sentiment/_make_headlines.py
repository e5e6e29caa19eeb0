"""Writes ``headlines.csv``, the labelled headline set (run once; the CSV is the source of truth).

Deterministic: hand-written headline templates per class, filled from hand-written slot lists
with a seeded RNG. Companies are fictional so no real issuer gets an invented headline. The
test split is drawn **by template** (stratified per class, about a quarter of each class), so a
held-out headline never shares its wording pattern with a training one: the test measures
generalisation, not template recall.

    .venv/bin/python -m models.sentiment._make_headlines
"""

from __future__ import annotations

import csv
import random
import string
from pathlib import Path

SEED = 20261125
PER_CLASS = 270
TEST_FRACTION = 0.25
OUT = Path(__file__).with_name("headlines.csv")

COMPANIES: tuple[tuple[str, str], ...] = (
    ("Northwind Robotics", "NWRB"),
    ("Halvard Energy", "HALV"),
    ("Corvane Systems", "CRVN"),
    ("Bellrock Pharmaceuticals", "BLRK"),
    ("Quillon Bank", "QLBK"),
    ("Tessaract Semiconductor", "TSSC"),
    ("Meridian Foods", "MRDF"),
    ("Ashgrove Mining", "ASHG"),
    ("Pellucid Software", "PLCD"),
    ("Orinoco Airlines", "ORNO"),
    ("Brightwater Utilities", "BWTR"),
    ("Kestrel Motors", "KSTL"),
    ("Vantor Health", "VNTH"),
    ("Lumenfield Retail", "LUMF"),
    ("Granite Peak Insurance", "GPKI"),
    ("Solenne Biotech", "SLNB"),
    ("Arbor Logistics", "ARBL"),
    ("Cindral Chemicals", "CNDL"),
    ("Polaris Freight", "PLFR"),
    ("Everline Telecom", "EVLT"),
    ("Mistral Aerospace", "MSTA"),
    ("Oakhurst Homes", "OAKH"),
    ("Zephyr Cloud", "ZPHC"),
    ("Redfern Steel", "RDFS"),
    ("Calloway Brands", "CALW"),
    ("Ironclad Security", "IRCL"),
    ("Pinecrest Media", "PNCM"),
    ("Sableport Shipping", "SBPT"),
    ("Truvista Payments", "TRVP"),
    ("Helix Diagnostics", "HLXD"),
    ("Marlowe Apparel", "MRLW"),
    ("Quantis Analytics", "QNTS"),
    ("Copperline Networks", "CPLN"),
    ("Fairhaven REIT", "FHRT"),
    ("Driftwood Hotels", "DRFT"),
    ("Stellan Gaming", "STLG"),
    ("Westmark Industrial", "WSMK"),
    ("Avalon Water", "AVLW"),
    ("Nimbus Devices", "NMBD"),
    ("Greyson Capital", "GRYC"),
    ("Tidewell Offshore", "TDWL"),
    ("Larkspur Cosmetics", "LRKS"),
    ("Obsidian Therapeutics", "OBSD"),
    ("Rivermont Bancorp", "RVMB"),
    ("Sunvale Solar", "SNVL"),
    ("Kingsbridge Tobacco", "KBTC"),
    ("Ferrovia Rail", "FRRV"),
    ("Emberly Restaurants", "EMBR"),
    ("Cobaltix Batteries", "CBLX"),
    ("Harrow & Finch", "HRFN"),
    ("Vireo Agritech", "VIRO"),
    ("Paragon Cruise Lines", "PRGN"),
    ("Osprey Defense", "OSPD"),
    ("Glenmoor Paper", "GLNM"),
    ("Skyreach Satellite", "SKRC"),
    ("Brambleton Toys", "BRBT"),
    ("Altamira Gold", "ALTG"),
    ("Crescent Auto Parts", "CRAU"),
    ("Mosaic Learning", "MSCL"),
    ("Thornbury Pharma", "THRN"),
)
COINS = ("Bitcoin", "Ether", "Solana", "XRP", "Cardano", "Dogecoin", "Avalanche", "Polkadot")
BANKS = (
    "Morgan Stanley",
    "Goldman Sachs",
    "JPMorgan",
    "Barclays",
    "UBS",
    "Jefferies",
    "Citi",
    "Bernstein",
    "Wells Fargo",
    "Deutsche Bank",
    "BofA Securities",
    "Raymond James",
    "Piper Sandler",
    "Evercore ISI",
    "Mizuho",
    "RBC Capital",
)
AGENCIES = ("Moody's", "S&P Global Ratings", "Fitch")
EXCHANGES = ("Nasdaq", "NYSE")
INDICES = ("S&P 500", "Nasdaq 100", "FTSE 100", "Russell 2000", "Stoxx 600", "MSCI World")
MONTHS = (
    "Jan.",
    "Feb.",
    "March",
    "April",
    "May",
    "June",
    "July",
    "Aug.",
    "Sept.",
    "Oct.",
    "Nov.",
    "Dec.",
)
CITIES = (
    "Austin",
    "Chicago",
    "London",
    "Singapore",
    "Denver",
    "Boston",
    "Toronto",
    "Frankfurt",
    "Dallas",
    "Zurich",
)
PEOPLE = (
    "Maria Lindqvist",
    "David Okafor",
    "Priya Raman",
    "Thomas Becker",
    "Elena Ruiz",
    "James Whitaker",
    "Aiko Tanaka",
    "Samuel Adeyemi",
    "Laura Fontaine",
    "Rahul Mehta",
    "Claire Dubois",
    "Marcus Hale",
)
ROLES = (
    "chief financial officer",
    "CFO",
    "chief operating officer",
    "general counsel",
    "chief technology officer",
    "head of investor relations",
)
#: A company's flagship product, by a word of its name (templates with {prod} use only these).
PRODUCTS: dict[str, str] = {
    "Robotics": "warehouse robot",
    "Motors": "electric SUV",
    "Semiconductor": "AI chip",
    "Software": "cloud platform",
    "Cloud": "data-centre service",
    "Devices": "smartwatch",
    "Payments": "payments app",
    "Batteries": "battery cell",
    "Aerospace": "jet engine",
    "Media": "streaming service",
    "Telecom": "5G network",
    "Gaming": "console game",
    "Networks": "network switch",
    "Solar": "solar panel",
    "Parts": "brake system",
    "Toys": "holiday toy line",
    "Cosmetics": "skincare line",
    "Apparel": "sneaker line",
    "Foods": "snack brand",
    "Defense": "drone system",
    "Satellite": "satellite broadband",
    "Learning": "tutoring app",
    "Analytics": "analytics suite",
    "Security": "security software",
    "Restaurants": "breakfast menu",
    "Agritech": "seed variety",
    "Diagnostics": "rapid test",
    "Health": "telehealth service",
    "Steel": "armour plate",
    "Chemicals": "coatings line",
}
PHARMA_WORDS = ("Pharmaceuticals", "Biotech", "Therapeutics", "Pharma", "Health", "Diagnostics")
DRUGS = (
    "its lead cancer drug",
    "its obesity treatment",
    "its Alzheimer's therapy",
    "a rare-disease gene therapy",
    "its migraine pill",
    "its RSV vaccine",
)
SECTORS = (
    "Bank",
    "Chip",
    "Energy",
    "Airline",
    "Retail",
    "Homebuilder",
    "Biotech",
    "Mining",
    "Utility",
    "Tech",
)
QUARTERS = (
    "first-quarter",
    "second-quarter",
    "third-quarter",
    "fourth-quarter",
    "Q1",
    "Q2",
    "Q3",
    "Q4",
)
COUNTRIES = ("China", "Germany", "Japan", "the UK", "the euro zone", "Brazil", "India", "Canada")

# {co} company, {co2} another company, {q} quarter, {pct} percent, {bn} billions, {mn} millions,
# {n} people, {px} price, {bank}, {agency}, {coin}, {idx}, {mon} {day}, {city}, {who}, {role},
# {prod}, {drug}, {sector}, {cty} country, {div} dividend, {yr} year, {exch}
TEMPLATES: dict[str, tuple[str, ...]] = {
    "positive": (
        "{co} shares jump {pct}% after {q} earnings beat estimates",
        "{co} tops {q} profit forecasts and raises full-year guidance",
        "{bank} upgrades {co} to buy, sees {pct}% upside",
        "{co} unveils ${bn} billion share buyback",
        "{co} raises quarterly dividend by {pct}%",
        "{co} stock hits record high as demand for its {prod} soars",
        "{co} wins ${bn} billion government contract",
        "{co} agrees to be acquired by {co2} at a {pct}% premium",
        "{co} lifts annual outlook as margins widen",
        "{co} posts record quarterly revenue, shares rally",
        "{co} swings to surprise {q} profit",
        "{coin} surges past ${px},000 as ETF inflows accelerate",
        "{co} wins FDA approval for {drug}",
        "{co} same-store sales climb {pct}%, beating expectations",
        "{bank} raises {co} price target to ${px}, reiterates outperform",
        "{co} free cash flow more than doubles in {q}",
        "{co} returns to profit a year ahead of plan",
        "{co} shares soar on takeover approach from {co2}",
        "{agency} upgrades {co} to investment grade as debt falls",
        "{co} order backlog swells to record ${bn} billion",
        "{sector} stocks rally as earnings season beats forecasts",
        "{idx} climbs as {cty} inflation cools more than expected",
        "{co} beats on revenue and earnings, guides above consensus",
        "{co} gains after settling patent fight with {co2} on favourable terms",
        "{co} lands multiyear supply deal with {co2}, stock rises {pct}%",
        "{co} boosts buyback and hikes payout after strong year",
        "{co} margins hit all-time high on cost cuts",
        "Strong {q} bookings send {co} to best day since {yr}",
        "{co} sales grow {pct}% as new {prod} takes off",
        "{co} debt rally: bonds gain after blowout results",
        "Investors cheer {co} turnaround as sales rebound",
        "{co} raises {yr} sales forecast on robust demand",
        "{coin} hits fresh all-time high as institutional buying grows",
        "{co} drug trial meets primary goal, shares spike",
        "{co} posts blowout quarter; analysts lift estimates",
        "{cty} factory output rebounds strongly, lifting global markets",
        "{co} wins approval to expand {prod} production, stock gains",
        "Upbeat guidance from {co} sparks rally in {sector} shares",
        "{co} earnings crush estimates on booming {prod} sales",
        "{co} dividend aristocrat streak extended with {pct}% raise",
    ),
    "negative": (
        "{co} shares plunge {pct}% after {q} earnings miss",
        "{co} cuts full-year guidance citing weak demand",
        "{bank} downgrades {co} to sell on slowing growth",
        "{co} to lay off {n} workers in restructuring",
        "{co} hit with class-action lawsuit over misleading disclosures",
        "{co} suspends dividend to preserve cash",
        "{co} recalls {n} units of its {prod} over fire risk",
        "SEC charges {co} executives with accounting fraud",
        "{co} misses revenue estimates, stock slides",
        "{co} swings to {q} loss as costs balloon",
        "{co} warns profit will fall short of forecasts",
        "{coin} tumbles below ${px},000 as liquidations mount",
        "{co} files for Chapter 11 bankruptcy protection",
        "{agency} cuts {co} to junk, citing heavy debt load",
        "{co} CEO resigns amid accounting probe",
        "{idx} sinks as {cty} inflation runs hotter than expected",
        "{co} data breach exposes records of {n} customers",
        "FDA rejects {co}'s application for {drug}",
        "{co} loses key contract with {co2}, shares tumble",
        "{co} slumps on weak {q} outlook",
        "{bank} slashes {co} price target to ${px} on margin worries",
        "Regulators fine {co} ${mn} million over compliance failures",
        "{co} delays {prod} launch again, shares drop",
        "Rising costs squeeze {co} margins; profit falls {pct}%",
        "{co} drug trial fails to meet main goal; stock craters",
        "{co} shares crash after short seller alleges fraud",
        "{co} sales decline for fifth straight quarter",
        "{co} defaults on bond payment",
        "{co} auditor resigns, raising going-concern doubts",
        "{co} guidance disappoints, stock suffers worst day since {yr}",
        "{co} scraps merger with {co2}, shares sink {pct}%",
        "{sector} shares slide as recession fears deepen",
        "{cty} economy contracts unexpectedly, hitting markets",
        "{co} faces antitrust lawsuit from Justice Department",
        "{co} writes down ${bn} billion on failed acquisition",
        "{co} to close {n} stores as losses mount",
        "{coin} crashes {pct}% after exchange halts withdrawals",
        "Investors dump {co} after dividend cut",
        "{co} plant shutdown to hit output, company warns",
        "{co} cash burn accelerates, raising funding concerns",
    ),
    "neutral": (
        "{co} to report {q} results on {mon} {day}",
        "{co} appoints {who} as {role}",
        "{co} schedules annual shareholder meeting for {mon} {day}",
        "{co} to present at {bank} conference in {city}",
        "{co} declares regular quarterly dividend of ${div} per share",
        "{co} names {who} {role}, effective {mon} {day}",
        "{co} files annual report on Form 10-K",
        "{co} to hold investor day in {city} on {mon} {day}",
        "{co} shares little changed ahead of earnings",
        "{co} to move headquarters to {city}",
        "Fed holds rates steady at {mon} meeting, in line with expectations",
        "{coin} trades flat near ${px},000 in quiet session",
        "{co} prices ${mn} million of senior notes due {yr2}",
        "{co} announces date of {q} earnings conference call",
        "{co} reaffirms full-year outlook",
        "{exch} to close early on {mon} {day} for holiday",
        "{co} changes ticker symbol to {tk2}",
        "{co} to webcast {q} earnings call",
        "{idx} quarterly rebalance to take effect after close on {mon} {day}",
        "{co} replaces {co2} in the {idx} in routine index rebalance",
        "{co} completes previously announced name change",
        "{co} board elects {who} as chair",
        "{co} opens new office in {city}",
        "{co} to show next-generation {prod} at event on {mon} {day}",
        "{co} renews credit facility on similar terms",
        "{co} sets record date for quarterly dividend",
        "{co} holds shareholder vote on board nominees",
        "{cty} central bank keeps rates unchanged as expected",
        "{co} to transfer stock listing to {exch}",
        "{co} {q} earnings preview: what to expect",
        "{co} confirms receipt of shareholder proposal",
        "{co} publishes annual sustainability report",
        "{co} to attend {bank} investor forum in {city}",
        "{co} maintains {pct}% stake in {co2} joint venture",
        "{co} announces retirement of {role} {who} after {n2} years",
        "Markets await {cty} inflation data due {mon} {day}",
        "{co} updates corporate governance guidelines",
        "{co} stock split takes effect {mon} {day}",
        "{co} files proxy statement ahead of annual meeting",
        "{co} to rebrand as {co2short} in {yr2}",
    ),
}


def _fill(template: str, rng: random.Random) -> str:
    """One headline from a template, with the company written one of a few realistic ways."""
    pool = COMPANIES
    if "{drug}" in template or "FDA" in template or "drug" in template:
        pool = tuple(c for c in COMPANIES if any(w in c[0] for w in PHARMA_WORDS))
    elif "{prod}" in template:
        pool = tuple(c for c in COMPANIES if _product(c[0]))
    name, ticker = rng.choice(pool)
    name2 = rng.choice([c[0] for c in COMPANIES if c[0] != name])
    style = rng.random()
    if style < 0.55:
        co = name
    elif style < 0.75:
        co = f"{name} ({ticker})"
    elif style < 0.9:
        co = f"${ticker}"
    else:
        co = f"{name.split()[0]}"
    slots = {
        "co": co,
        "co2": name2,
        "co2short": name2.split()[0] + " " + rng.choice(("Group", "Holdings", "Technologies")),
        "tk2": "".join(rng.sample(string.ascii_uppercase, 4)),
        "q": rng.choice(QUARTERS),
        "pct": str(rng.choice((3, 4, 5, 6, 7, 8, 9, 11, 12, 14, 15, 18, 20, 22, 25, 30, 35))),
        "bn": rng.choice(("1", "1.5", "2", "2.5", "3", "4", "5", "7.5", "10", "12")),
        "mn": str(rng.choice((25, 40, 75, 120, 150, 250, 300, 400, 500, 750))),
        "n": f"{rng.choice((300, 450, 600, 800, 1200, 1500, 2000, 3500, 5000, 12000)):,}",
        "n2": str(rng.randint(8, 30)),
        "px": str(rng.choice((18, 24, 35, 42, 55, 61, 68, 75, 88, 95, 110, 140))),
        "bank": rng.choice(BANKS),
        "agency": rng.choice(AGENCIES),
        "coin": rng.choice(COINS),
        "idx": rng.choice(INDICES),
        "mon": rng.choice(MONTHS),
        "day": str(rng.randint(1, 28)),
        "city": rng.choice(CITIES),
        "who": rng.choice(PEOPLE),
        "role": rng.choice(ROLES),
        "prod": _product(name) or "",
        "drug": rng.choice(DRUGS),
        "sector": rng.choice(SECTORS),
        "cty": rng.choice(COUNTRIES),
        "div": f"{rng.choice((0.12, 0.18, 0.25, 0.31, 0.4, 0.52, 0.65, 0.8, 1.05)):.2f}",
        "yr": str(rng.randint(2009, 2023)),
        "yr2": str(rng.randint(2027, 2036)),
        "exch": rng.choice(EXCHANGES),
    }
    text = template.format(**slots)
    return text[0].upper() + text[1:] if text[0].islower() else text


def _product(name: str) -> str | None:
    """The flagship product of a company, or None when it has none in PRODUCTS."""
    return next((product for word, product in PRODUCTS.items() if word in name.split()), None)


def build(seed: int = SEED) -> list[tuple[str, str, str]]:
    """(text, label, split) rows: PER_CLASS unique headlines a class, test split by template."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[tuple[str, str, str]] = []
    for label, templates in TEMPLATES.items():
        order = list(range(len(templates)))
        rng.shuffle(order)
        test_templates = set(order[: round(len(templates) * TEST_FRACTION)])
        per_template = [PER_CLASS // len(templates)] * len(templates)
        for i in range(PER_CLASS - sum(per_template)):
            per_template[order[-1 - i]] += 1
        for index, template in enumerate(templates):
            made, attempts = 0, 0
            while made < per_template[index]:
                attempts += 1
                if attempts > 1000:
                    raise RuntimeError(
                        f"template cannot make {per_template[index]} unique rows: {template}"
                    )
                text = _fill(template, rng)
                if text.lower() in seen:
                    continue
                seen.add(text.lower())
                rows.append((text, label, "test" if index in test_templates else "train"))
                made += 1
    rng.shuffle(rows)
    return rows


def main() -> None:
    """Write the CSV next to this file."""
    rows = build()
    with OUT.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("text", "label", "split"))
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
