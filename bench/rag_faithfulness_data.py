"""The documents and questions of bench_rag_faithfulness.py: invented places and products (so no model knows
them), with numbers and names; answerable questions with the strings a right answer contains, and
unanswerable ones that sit next to a stated fact (a number or name from a neighbouring sentence fits them).

Two halves: the first ten documents and their questions (DEV) are the ones the answer check was designed
on; the last ten (HELD_OUT) were never looked at while choosing its rules, so their figures say how the
check does on questions it was not shaped by. The last two documents of each half and their questions
(10 answerable and 12 unanswerable each) were added before the check's second round, to make the held-out
figures less coarse."""

from __future__ import annotations

DOCUMENTS: dict[str, str] = {
    "vellmoor.txt": (
        "The Vellmoor lighthouse stands on the Skarn peninsula. It was built in 1887 by the engineer "
        "Tobias Grell. The tower is 46 metres tall and the keeper climbed 212 steps to reach the lamp room. "
        "Its light is visible for 22 nautical miles. The lighthouse was automated in 1969 and is open to "
        "visitors from May to September; a ticket costs 7 euros."
    ),
    "kestrel.txt": (
        "The Kestrel K9 is an electric bicycle made by Orrin Cycles in Tallinn. Its battery holds 540 watt "
        "hours and gives a range of 85 kilometres. The bike weighs 23 kilograms and sells for 2,390 euros. "
        "Motor assistance stops at 25 km/h. The frame carries a 5-year warranty."
    ),
    "ambrel.txt": (
        "Lake Ambrel is 14 kilometres long and reaches a maximum depth of 112 metres. It is fed by the river "
        "Sarn. The village of Pellow lies on its northern shore and has 1,340 inhabitants. A ferry crosses "
        "the lake every 40 minutes in summer."
    ),
    "quillfeather.txt": (
        "The Quillfeather fountain pen is made by Hadley & Voss, a firm founded in Bristol in 1921 by Edith "
        "Hadley. The pen has a 14-carat gold nib and holds 1.2 millilitres of ink. It sells for 180 pounds "
        "and comes in three colours: black, green and burgundy."
    ),
    "tarnby.txt": (
        "Tarnby Observatory sits on Mount Keld at an altitude of 2,150 metres. Its main telescope has a "
        "mirror 1.8 metres across. The observatory opened in 1994, and its director is Ilse Marant. The "
        "site enjoys about 210 clear nights a year."
    ),
    "glimmerstone.txt": (
        "Glimmerstone Bakery in the town of Orsa is run by the head baker Rosa Quint. The bakery opens at "
        "6:30 every morning and bakes 600 loaves a day in a stone oven heated to 260 degrees. A sourdough "
        "loaf costs 4.50 euros."
    ),
    "corrin.txt": (
        "The Corrin Express is a train that runs between Alvik and Dunmere. The line is 312 kilometres long "
        "and the journey takes 3 hours 40 minutes with 9 stops. The service was launched in 2011 and is "
        "operated by Sable Rail."
    ),
    "tidepool.txt": (
        "Tidepool is a tide-forecasting app created by Marco Lenz. Version 4.2 was released in March and "
        "supports 12 languages. The app has been downloaded 3 million times and costs nothing; an optional "
        "subscription adds offline charts."
    ),
    "halvard.txt": (
        "The Halvard Tunnel carries the E7 road under Mount Brisen. The tunnel is 9.4 kilometres long and 11 "
        "metres wide, and it took 6 years to dig. It opened in 2004 and was built by the contractor Nordvei. "
        "About 14,000 cars pass through it each day, and the toll is 12 euros."
    ),
    "brisa.txt": (
        "The Brisa kettle is made by Tovel Home in Lyon. It holds 1.7 litres and boils a full load in 4 "
        "minutes. It weighs 1.1 kilograms, has a 2-year guarantee and sells for 59 euros. It comes in white "
        "and steel finishes."
    ),
}
DEV_DOCUMENTS = frozenset(DOCUMENTS)
HELD_OUT_DOCUMENTS: dict[str, str] = {
    "brannock.txt": (
        "Brannock Bridge crosses the river Oster at the town of Hallam. The bridge is 380 metres long and "
        "has 7 stone arches. It was designed by the architect Miriam Stowe and completed in 1902. Cars may "
        "cross at no more than 30 km/h, and about 9,000 vehicles use it each day."
    ),
    "solvik.txt": (
        "Solvik is a wireless speaker made by Parnell Audio in Oslo. It weighs 1.4 kilograms and its battery "
        "plays for 18 hours. The speaker is waterproof to a depth of 1 metre and sells for 249 euros. It is "
        "sold in grey and sand colours."
    ),
    "merrow.txt": (
        "Merrow Zoo opened in 1958 on the edge of the city of Calder. It covers 24 hectares and houses 640 "
        "animals of 95 species. The zoo's head keeper is Dara Finch. An adult ticket costs 18 pounds, and "
        "children under 3 enter free."
    ),
    "hollin.txt": (
        "Hollin Forest covers 5,200 hectares of the Velder hills. Its oldest tree, an oak called the Warden, "
        "is about 800 years old. The forest is managed by the Velder Trust, and a walking trail of 11 "
        "kilometres loops around Lake Tamsin at its centre."
    ),
    "ashgrove.txt": (
        "Ashgrove Library in the town of Wenlow holds 85,000 books. It was founded in 1876 with money from "
        "the merchant Harold Ashe. The library is open from 9 am to 7 pm on weekdays, and its chief "
        "librarian is Nora Blythe. Members may borrow up to 12 books at a time."
    ),
    "pellucid.txt": (
        "Pellucid is a note-taking app developed by the studio Lumen Forge in Porto. Version 3.1 added "
        "handwriting recognition in 9 languages. The app has 2 million users; the basic plan is free and the "
        "pro plan costs 4 euros a month."
    ),
    "carrick.txt": (
        "The Carrick Marathon is run each April in the city of Ostend Vale. The course record of 2 hours 7 "
        "minutes was set by Joel Mbeki in 2019. About 12,000 runners take part, and the race was first held "
        "in 1981. The organiser is the Vale Athletic Club."
    ),
    "dunmore.txt": (
        "Dunmore Castle was built in 1340 by Lord Alric Dunmore on a cliff above the sea. Its keep is 28 "
        "metres high and its walls are 4 metres thick. The castle has been owned by the National Heritage "
        "Fund since 1962 and receives about 150,000 visitors a year."
    ),
    "oakhurst.txt": (
        "The Oakhurst Museum of Clocks is in the town of Brede. It opened in 1971 and displays 430 clocks, "
        "the oldest made in 1520. The museum's curator is Linus Farrow. It is open from Tuesday to Sunday, "
        "and entry costs 9 pounds for adults."
    ),
    "selkie.txt": (
        "The Selkie is a research ship owned by the Marine Institute of Corran. She is 64 metres long, "
        "carries a crew of 22 and 16 scientists, and can stay at sea for 30 days. She was launched in 2016 "
        "at the Harwick shipyard, and her captain is Ingrid Soll."
    ),
}
DOCUMENTS |= HELD_OUT_DOCUMENTS


def held_out(document: str | None, question: str) -> bool:
    """Whether a question belongs to the held-out half (by its document; unanswerable ones by their list)."""
    if document is not None:
        return document in HELD_OUT_DOCUMENTS
    return question in UNANSWERABLE_HELD_OUT


# (question, document, strings of which a right answer contains at least one)
ANSWERABLE: list[tuple[str, str, tuple[str, ...]]] = [
    ("When was the Vellmoor lighthouse built?", "vellmoor.txt", ("1887",)),
    ("Who built the Vellmoor lighthouse?", "vellmoor.txt", ("Grell",)),
    ("How tall is the Vellmoor lighthouse tower?", "vellmoor.txt", ("46",)),
    ("How many steps did the Vellmoor keeper climb to the lamp room?", "vellmoor.txt", ("212",)),
    ("How far is the Vellmoor light visible?", "vellmoor.txt", ("22",)),
    ("How much is a ticket to visit the Vellmoor lighthouse?", "vellmoor.txt", ("7",)),
    ("Who makes the Kestrel K9?", "kestrel.txt", ("Orrin",)),
    ("What is the range of the Kestrel K9?", "kestrel.txt", ("85",)),
    ("How much does the Kestrel K9 weigh?", "kestrel.txt", ("23",)),
    ("What does the Kestrel K9 cost?", "kestrel.txt", ("2,390", "2390")),
    ("How long is the warranty on the Kestrel K9 frame?", "kestrel.txt", ("5", "five")),
    ("How long is Lake Ambrel?", "ambrel.txt", ("14",)),
    ("What is the maximum depth of Lake Ambrel?", "ambrel.txt", ("112",)),
    ("Which river feeds Lake Ambrel?", "ambrel.txt", ("Sarn",)),
    ("How many people live in Pellow?", "ambrel.txt", ("1,340", "1340")),
    ("How often does the ferry cross Lake Ambrel in summer?", "ambrel.txt", ("40",)),
    ("Who founded Hadley & Voss?", "quillfeather.txt", ("Edith",)),
    ("What is the nib of the Quillfeather pen made of?", "quillfeather.txt", ("gold",)),
    ("How much ink does the Quillfeather pen hold?", "quillfeather.txt", ("1.2",)),
    ("What is the price of the Quillfeather pen?", "quillfeather.txt", ("180",)),
    ("At what altitude is Tarnby Observatory?", "tarnby.txt", ("2,150", "2150")),
    ("How wide is the mirror of the Tarnby telescope?", "tarnby.txt", ("1.8",)),
    ("Who is the director of Tarnby Observatory?", "tarnby.txt", ("Marant",)),
    ("When did Tarnby Observatory open?", "tarnby.txt", ("1994",)),
    ("Who is the head baker at Glimmerstone Bakery?", "glimmerstone.txt", ("Quint",)),
    ("What time does Glimmerstone Bakery open?", "glimmerstone.txt", ("6:30",)),
    ("How many loaves does Glimmerstone Bakery bake a day?", "glimmerstone.txt", ("600",)),
    ("How much is a sourdough loaf at Glimmerstone?", "glimmerstone.txt", ("4.50", "4.5")),
    ("How long is the Corrin Express line?", "corrin.txt", ("312",)),
    ("How long does the Corrin Express journey take?", "corrin.txt", ("3 hours", "40 minutes")),
    ("Who operates the Corrin Express?", "corrin.txt", ("Sable",)),
    ("Who created the Tidepool app?", "tidepool.txt", ("Lenz",)),
    ("How many languages does Tidepool support?", "tidepool.txt", ("12",)),
    ("How many times has Tidepool been downloaded?", "tidepool.txt", ("3 million",)),
    ("How long is the Halvard Tunnel?", "halvard.txt", ("9.4",)),
    ("How wide is the Halvard Tunnel?", "halvard.txt", ("11",)),
    ("When did the Halvard Tunnel open?", "halvard.txt", ("2004",)),
    ("Who built the Halvard Tunnel?", "halvard.txt", ("Nordvei",)),
    ("How much is the toll for the Halvard Tunnel?", "halvard.txt", ("12",)),
    ("How much water does the Brisa kettle hold?", "brisa.txt", ("1.7",)),
    ("How long does the Brisa kettle take to boil a full load?", "brisa.txt", ("4", "four")),
    ("How much does the Brisa kettle weigh?", "brisa.txt", ("1.1",)),
    ("Who makes the Brisa kettle?", "brisa.txt", ("Tovel",)),
    ("What is the price of the Brisa kettle?", "brisa.txt", ("59",)),
    # held out
    ("How long is Brannock Bridge?", "brannock.txt", ("380",)),
    ("How many arches does Brannock Bridge have?", "brannock.txt", ("7", "seven")),
    ("Who designed Brannock Bridge?", "brannock.txt", ("Stowe",)),
    ("When was Brannock Bridge completed?", "brannock.txt", ("1902",)),
    ("What is the speed limit on Brannock Bridge?", "brannock.txt", ("30",)),
    ("How much does the Solvik speaker weigh?", "solvik.txt", ("1.4",)),
    ("How long does the Solvik battery play?", "solvik.txt", ("18",)),
    ("Who makes the Solvik speaker?", "solvik.txt", ("Parnell",)),
    ("What is the price of the Solvik speaker?", "solvik.txt", ("249",)),
    ("When did Merrow Zoo open?", "merrow.txt", ("1958",)),
    ("How many animals live at Merrow Zoo?", "merrow.txt", ("640",)),
    ("Who is the head keeper of Merrow Zoo?", "merrow.txt", ("Finch",)),
    ("How much is an adult ticket to Merrow Zoo?", "merrow.txt", ("18",)),
    ("How big is Hollin Forest?", "hollin.txt", ("5,200", "5200")),
    ("How old is the oldest tree in Hollin Forest?", "hollin.txt", ("800",)),
    ("Who manages Hollin Forest?", "hollin.txt", ("Velder Trust",)),
    ("How long is the walking trail around Lake Tamsin?", "hollin.txt", ("11",)),
    ("How many books does Ashgrove Library hold?", "ashgrove.txt", ("85,000", "85000")),
    ("When was Ashgrove Library founded?", "ashgrove.txt", ("1876",)),
    ("Who is the chief librarian of Ashgrove Library?", "ashgrove.txt", ("Blythe",)),
    ("How many books can a member of Ashgrove Library borrow at a time?", "ashgrove.txt", ("12",)),
    ("Who developed the Pellucid app?", "pellucid.txt", ("Lumen Forge",)),
    ("How many users does Pellucid have?", "pellucid.txt", ("2 million",)),
    ("How much does the Pellucid pro plan cost?", "pellucid.txt", ("4",)),
    ("What is the course record of the Carrick Marathon?", "carrick.txt", ("2 hours",)),
    ("How many runners take part in the Carrick Marathon?", "carrick.txt", ("12,000", "12000")),
    ("When was the Carrick Marathon first held?", "carrick.txt", ("1981",)),
    ("When was Dunmore Castle built?", "dunmore.txt", ("1340",)),
    ("How thick are the walls of Dunmore Castle?", "dunmore.txt", ("4",)),
    ("How many visitors does Dunmore Castle receive a year?", "dunmore.txt", ("150,000", "150000")),
    ("How many clocks does the Oakhurst Museum display?", "oakhurst.txt", ("430",)),
    ("When did the Oakhurst Museum open?", "oakhurst.txt", ("1971",)),
    ("Who is the curator of the Oakhurst Museum?", "oakhurst.txt", ("Farrow",)),
    ("How much is adult entry to the Oakhurst Museum?", "oakhurst.txt", ("9",)),
    ("When was the oldest clock in the Oakhurst Museum made?", "oakhurst.txt", ("1520",)),
    ("How long is the Selkie?", "selkie.txt", ("64",)),
    ("How many scientists can the Selkie carry?", "selkie.txt", ("16",)),
    ("How long can the Selkie stay at sea?", "selkie.txt", ("30",)),
    ("Who is the captain of the Selkie?", "selkie.txt", ("Soll",)),
    ("When was the Selkie launched?", "selkie.txt", ("2016",)),
]

# questions the documents do not answer, each next to a fact they do state; the dev half first
UNANSWERABLE_DEV: list[str] = [
    "Who designed the lamp of the Vellmoor lighthouse?",
    "How much did it cost to build the Vellmoor lighthouse?",
    "When did the last keeper leave the Vellmoor lighthouse?",
    "How long does it take to charge the Kestrel K9 battery?",
    "What is the top speed of the Kestrel K9 without assistance?",
    "When was Orrin Cycles founded?",
    "What is the average depth of Lake Ambrel?",
    "How much does a ferry ticket across Lake Ambrel cost?",
    "How many people live on the southern shore of Lake Ambrel?",
    "How many Quillfeather pens are sold each year?",
    "Who designs the pens at Hadley & Voss today?",
    "How much does the Quillfeather pen weigh?",
    "Who was the first director of Tarnby Observatory?",
    "How much did the Tarnby telescope cost?",
    "How many staff work at Tarnby Observatory?",
    "What time does Glimmerstone Bakery close?",
    "How many people work at Glimmerstone Bakery?",
    "How much does a croissant cost at Glimmerstone Bakery?",
    "How much is a ticket on the Corrin Express?",
    "What is the top speed of the Corrin Express?",
    "How much does the Tidepool offline subscription cost?",
    "When was the first version of Tidepool released?",
    "How tall is the Halvard Tunnel?",
    "How many workers dug the Halvard Tunnel?",
    "Who designed the Halvard Tunnel?",
    "How much did the Halvard Tunnel cost to build?",
    "What is the speed limit in the Halvard Tunnel?",
    "How many trucks use the Halvard Tunnel each day?",
    "What is the power of the Brisa kettle?",
    "How long is the cord of the Brisa kettle?",
    "When was Tovel Home founded?",
    "How many Brisa kettles has Tovel Home sold?",
    "Who designed the Brisa kettle?",
    "How tall is the Brisa kettle?",
]
UNANSWERABLE_HELD_OUT: list[str] = [
    "How wide is Brannock Bridge?",
    "How much did it cost to build Brannock Bridge?",
    "Who repaired Brannock Bridge after the flood?",
    "How long does the Solvik battery take to charge?",
    "When was Parnell Audio founded?",
    "How loud can the Solvik speaker play?",
    "How much is a child ticket to Merrow Zoo for a 10-year-old?",
    "Who founded Merrow Zoo?",
    "How many elephants live at Merrow Zoo?",
    "How tall is the Warden oak in Hollin Forest?",
    "How deep is Lake Tamsin?",
    "When was the Velder Trust founded?",
    "What time does Ashgrove Library open on Saturdays?",
    "How many members does Ashgrove Library have?",
    "How much does the Pellucid pro plan cost per year?",
    "When was version 1 of Pellucid released?",
    "Who won the Carrick Marathon in 2023?",
    "What is the women's course record of the Carrick Marathon?",
    "How much is the entry fee for the Carrick Marathon?",
    "Who lives in Dunmore Castle today?",
    "How many rooms does Dunmore Castle have?",
    "How much is a ticket to visit Dunmore Castle?",
    "Who founded the Oakhurst Museum?",
    "How many visitors does the Oakhurst Museum receive each year?",
    "How much is entry to the Oakhurst Museum for children?",
    "Who made the oldest clock in the Oakhurst Museum?",
    "What time does the Oakhurst Museum close?",
    "How large is the Oakhurst Museum building?",
    "How wide is the Selkie?",
    "How fast can the Selkie sail?",
    "Who designed the Selkie?",
    "How much did the Selkie cost to build?",
    "How many lifeboats does the Selkie carry?",
    "When did the Selkie first sail to the Arctic?",
]
UNANSWERABLE = UNANSWERABLE_DEV + UNANSWERABLE_HELD_OUT
