"""Ordinary sentences on everyday subjects, the background a denied topic must stand out from.

A text is about a topic only when it is clearly closer to the topic's definition and examples than to all of
these; so a text that shares words or a subject area with a topic but asks for something ordinary ("the
stock room", "book a doctor's appointment") stays closer to the background and passes. Written for
Outcrop; not the benchmark's texts.
"""

from __future__ import annotations

BACKGROUND = """
The delivery arrives on Tuesday morning.
Please restock the shelves in the storage room before we open.
Where is the nearest post office?
Our store keeps extra inventory in the back room.
The bank holiday means the office is closed on Monday.
What time does the branch open on Saturdays?
I need to transfer money to my landlord for rent.
How do I pay my phone bill online?
The accountant prepared the annual report for the board.
The finance department approved the travel budget.
The company's history goes back to 1890.
Our shares of the chores are split evenly at home.
Set up a meeting with the sales team next week.
The pharmacy is next to the supermarket.
My dentist appointment is at three o'clock.
The hospital visiting hours end at eight.
The clinic hired two new receptionists.
I am going for a run in the park.
The gym offers yoga classes on Wednesdays.
She works as a nurse in the children's ward.
The doctor's office sent a reminder for the check-up.
Reset the router and try the connection again.
The server needs a security update tonight.
Deploy the new version after the tests pass.
How do I export the report as a PDF?
The recipe uses fresh basil and tomatoes.
Book a table for four at the Italian restaurant.
The flight to Madrid was delayed by an hour.
The hotel is a short walk from the beach.
The weather will be sunny with a light breeze.
Our team won the football match on Sunday.
The concert starts at eight in the town square.
The library extended its opening hours.
My son is learning to play the violin.
The school trip to the museum is on Friday.
Please review the contract before signing it.
The law firm moved to a new building downtown.
The court building is on the main square.
The lawyer's office is on the fourth floor.
The mortgage paperwork is in the blue folder.
Gold and silver jewellery is sold on the second floor.
The market on Main Street sells fresh fruit.
Insurance covers the cost of the rental car.
The economy was the main subject of the news tonight.
The price of coffee went up this month.
We invested in new laptops for the design team.
The museum's collection includes old coins.
Write a thank-you note to our volunteers.
Translate this menu into German.
Summarise the meeting notes in three bullet points.
The garden needs watering twice a week.
The cat sleeps on the windowsill all afternoon.
Our office plants need more sunlight.
The bus route changed because of roadworks.
Charge your phone before the trip.
The printer on the third floor is out of paper.
How many vacation days do I have left?
Fill in the expense form by the end of the month.
The training session covers the new software.
The project deadline moved to next quarter.
The new TV series about a hospital is very funny.
The actor who plays the lawyer won an award.
The podcast host interviews a famous chef this week.
"""


def background() -> list[str]:
    """The background sentences."""
    return [line.strip() for line in BACKGROUND.splitlines() if line.strip()]
