"""The documents and questions of bench_rag_faithfulness.py: invented places and products (so no model knows
them), with numbers and names; answerable questions with the strings a right answer contains, and
unanswerable ones that sit next to a stated fact (a number or name from a neighbouring sentence fits them)."""

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
}

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
]

# questions the documents do not answer, each next to a fact they do state
UNANSWERABLE: list[str] = [
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
]
