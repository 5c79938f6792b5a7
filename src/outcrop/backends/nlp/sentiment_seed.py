"""The labelled sentences the sentiment head (sentiment_head.py) is fitted on when it is first used.

Written for Outcrop, one sentence or short review a line, across reviews (products, restaurants, hotels,
films, books, apps), support, work, health, sport, finance and news, schools, transport and everyday life.
NEUTRAL holds facts, questions and requests, many with words VADER reads as praise or blame ("the support
desk opens at nine", "interest rates", "please"); NEGATIVE and POSITIVE hold verdicts VADER has no word for
("it stopped charging after a week"); MIXED holds texts with a good side and a bad one, with and without
"but". It is not the benchmark's set (bench/service_quality_data/sentiment.tsv): the bench measures the
head on sentences it was never fitted on.
"""

from __future__ import annotations

POSITIVE = """
The kettle boils in under a minute and looks great on the counter.
These boots are waterproof, light and comfortable all day.
I am thrilled with my new laptop, it starts in seconds.
The mattress transformed my sleep, no more back pain in the morning.
Works exactly as described and arrived two days early.
The blender is quiet, powerful and a joy to use.
Solid build, clear screen and the battery easily lasts two days.
My daughter has not put this book down since her birthday.
The soup was rich and warming, and the bread was baked that morning.
We had a fabulous brunch with friendly staff and generous plates.
Every course tasted better than the last; we will definitely return.
The curry was perfectly spiced and the naan was still warm.
A charming little cafe with the best croissants in town.
The waiter remembered our order from last time, which made us smile.
The apartment was immaculate and the host left us fresh flowers.
The ferry crossing was smooth and the sunset from the deck was unforgettable.
Our tour guide made the history come alive; the kids loved every minute.
The receptionist upgraded us to a suite overlooking the harbour.
The beach was clean, quiet and only a short walk from the villa.
The film is a triumph, moving and funny in equal measure.
The lead actress gives the performance of her career.
I laughed from start to finish; the script is razor sharp.
A gripping thriller that kept me guessing until the very last page.
The new album is gorgeous, every track is a keeper.
The concert was electric and the band played for almost three hours.
The app is fast, intuitive and finally syncs across all my devices.
The latest update fixed every crash I had and the battery use dropped.
Setting up the software took five minutes and it just works.
This library saved our team weeks of work.
The new dashboard is clean and makes our reports so much easier to read.
The agent sorted out my refund in one call and was lovely throughout.
Support replied within the hour and solved the problem on the spot.
They replaced the faulty unit at no charge and apologised for the trouble.
The technician was punctual, tidy and explained everything clearly.
The bank waived the fee without me even asking.
Our savings grew nicely this year thanks to the new account.
Shares of the company soared after record quarterly sales.
The economy added far more jobs than expected last month.
The merger was welcomed by investors and staff alike.
The nurse was so kind and made my mother feel safe.
After the physiotherapy I can walk without pain for the first time in years.
The clinic was efficient and the doctor listened carefully to every question.
The new medication works wonders; my headaches are gone.
What a match, the team fought back brilliantly to win in extra time.
She ran a personal best and smashed the national record.
The home crowd cheered as the young striker scored a stunning goal.
The coach has turned this squad into champions.
My manager praised the project in front of the whole department.
I got the promotion I have been working towards for two years.
The new office is bright and spacious and everyone seems happier.
The training course was practical, well paced and genuinely useful.
Our teacher is patient and makes maths fun.
The school play was a delight and the children were proud.
The train was on time, clean and the seats were comfortable.
The new bike lanes make my commute safe and pleasant.
What a beautiful morning, the garden is full of flowers.
We had a wonderful weekend with the grandchildren.
The neighbours helped us move and even brought pizza.
I finally passed my driving test and I am over the moon.
The wedding was perfect from the vows to the last dance.
This moisturiser left my skin soft and calm within a week.
The gym is spotless and the instructors are motivating.
The plumber fixed the leak quickly and charged a fair price.
Delivery was quick and the parcel was packed with care.
Highly recommend this dentist, painless and reassuring.
The museum's new wing is stunning and well worth the visit.
The puzzle game is addictive in the best possible way.
The sequel is even better than the original.
The soundtrack alone makes this film worth watching.
I love how light this tent is, and it stayed dry in a storm.
The vacuum picks up every bit of pet hair, I am impressed.
Top quality knives that are still razor sharp after a year.
The printer set itself up and prints beautifully.
A superb hotel breakfast with fresh fruit and proper coffee.
Staff went out of their way to make my father's birthday special.
The city is safe, walkable and full of great little restaurants.
The online course gave me the confidence to change careers.
The charity raised twice its target thanks to generous donors.
Volunteers cleaned the whole park in a single afternoon, inspiring work.
I am grateful for such a supportive team.
The free upgrade made our trip truly memorable.
Thanks to the new scheduling tool we never miss a deadline now.
This recipe is a winner, the whole family asked for seconds.
The headphones block out the noise on the plane perfectly.
The strawberries were sweet and juicy, the best this summer.
Our new puppy has brought so much joy to the house.
The river walk was peaceful and the autumn colours were glorious.
The customer service team went above and beyond.
The repairs were finished ahead of schedule and under budget.
The keyboard feels great to type on and the keys are nicely quiet.
The refund arrived the next day, smooth and painless.
The hospital staff were heroes during the whole ordeal.
The pizza had a perfect crispy base and loads of fresh toppings.
The translation app helped us order food with no trouble at all.
The midwife stayed calm and cheerful through the whole long night.
This is easily the most comfortable chair I have ever owned.
The festival was brilliantly organised and the food stalls were excellent.
The phone camera takes sharp photos even at night.
"""

NEGATIVE = """
The kettle started leaking after a week.
These boots let water in the first time it rained.
My laptop freezes every time I open more than two tabs.
The mattress sagged in the middle within a month.
The item arrived scratched and with a part missing.
The blender motor burned out on the third smoothie.
The screen cracked on its own and the seller refuses to help.
The zip broke the first time I used the bag.
The noodles were gluey and swimming in grease.
Our order came out wrong twice and the manager just shrugged.
The salad was wilted and the dressing tasted sour.
The place was filthy and the toilets were out of order.
The waiter rolled his eyes at us and never came back.
The bill had three items we never ordered.
The hotel room smelled of smoke and the sheets were stained.
The connecting flight left without us and the desk staff shrugged.
The airline lost my suitcase and has not replied to a single email.
The bus broke down and we were stuck on the motorway for three hours.
The photos of the villa were nothing like the reality.
The noise from the bar below kept us awake every night.
The film drags on forever and the ending makes no sense.
Wooden acting and a plot full of holes.
I walked out after forty minutes, a total waste of an evening.
The novel is dull and the characters are paper thin.
The band played for barely an hour and the sound was muddy.
The app crashes whenever I try to upload a photo.
Since the update I cannot log in at all.
The software deleted my files without warning.
The installer hangs at ninety percent every time.
The new interface is confusing and buries the features I use most.
Three emails to the help desk and not one reply.
Support closed my ticket without fixing anything.
They promised a callback three times and never called.
The engineer did not turn up and we lost a day of work.
The bank charged me a fee for its own mistake.
My card was blocked while I was abroad and I was left with no money.
Shares tumbled after the company missed its targets again.
Thousands of workers lost their jobs when the factory closed.
Prices keep rising while wages stay the same.
The company was fined for misleading its customers.
My appointment was postponed for the third time this month.
The doctor barely looked at me and rushed me out.
The new pills made me dizzy and sick.
My knee is worse now than before the operation.
The team collapsed in the second half and lost four nil.
Another season of poor results and empty promises.
The referee's decisions were a disgrace.
Our best player is injured again and the fans are furious.
My manager took credit for my work in the meeting.
The office is freezing and half the lights do not work.
I was told about the layoffs by email, which felt cold and cruel.
The training was a waste of a whole day.
The school ignored our complaints about the bullying.
The homework load is crushing and the kids are exhausted.
The tram skipped our stop twice this week, leaving us stranded.
The roadworks have made my commute twice as long.
The parcel was left in the rain and everything inside was ruined.
It rained all week and the campsite flooded.
The neighbours' dog barks all night and they do not care.
I failed my exam by two points and feel awful.
The moisturiser gave me a rash.
The gym is dirty and half the machines are broken.
The plumber made the leak worse and charged a fortune.
Delivery took five weeks and the box was crushed.
The dentist was rough and the filling fell out a week later.
The museum was overcrowded and most rooms were closed.
The game is riddled with bugs and constant adverts.
Every joke in this comedy falls flat.
The tent collapsed in the first gust of wind.
The vacuum loses suction after five minutes.
The knives went blunt within a month.
The printer jams on every other page.
The breakfast was a sad plate of cold eggs and burnt toast.
Staff were rude when we asked for a clean towel.
The city centre felt unsafe at night and the streets were dirty.
The online course was just someone reading slides for hours.
The charity spent most of the money on its own salaries.
I regret buying this phone, the battery dies by lunchtime.
The insurance company refused my claim on a technicality.
The landlord ignores the damp and the mould is spreading.
The repairs dragged on for months and cost double the quote.
The keyboard keys stick and some letters do not register.
Still waiting for my refund after six weeks.
The hospital lost my test results and I had to start over.
The pizza was burnt on the bottom and raw in the middle.
The translation was gibberish and embarrassed us in front of the client.
The chair squeaks and the armrest came off.
The festival ran out of water and the queues were endless.
The camera photos are blurry even in daylight.
The fridge stopped cooling and all our food went off.
This is the most uncomfortable flight I have ever taken.
I will never shop here again.
Absolutely useless, it does not do what the box says.
The lecture was boring and the professor was unprepared.
The charger overheated and melted the plug.
The paint started peeling after two weeks.
My order was cancelled without explanation and the money has not come back.
"""

NEUTRAL = """
The kettle holds one point seven litres and has an automatic shut-off.
The boots come in sizes five to twelve.
The laptop has sixteen gigabytes of memory and a fourteen inch screen.
The mattress is delivered rolled in a box.
The box includes two batteries and a carry pouch.
The toaster has six browning levels and a defrost setting.
Returns must be made within thirty days with the receipt.
The bistro serves dinner from six on weekdays.
The menu changes every season.
Reservations are required for groups of eight or more.
The bakery moved to a unit beside the railway bridge.
Set menus are available for parties of ten.
The hotel has two hundred rooms and an underground car park.
Breakfast is served between seven and ten in the main hall.
The flight to Lisbon takes about two and a half hours.
The ferry leaves every forty minutes during the summer.
Check-out is at eleven and luggage can be stored at reception.
The walking route covers eight kilometres of coastline.
The film was released in cinemas on Friday.
The novel is set in a fishing village in the nineteenth century.
The director's next project is a documentary about rivers.
The band will tour twelve cities next spring.
The documentary was filmed over two winters in Norway.
The app is available for phones and tablets.
Version four adds a dark mode and a new settings page.
The update will be installed automatically tonight.
Your username is the email address you registered with.
The software supports Windows, Mac and Linux.
The support desk is open Monday to Friday from nine to five.
Please include your order number when you contact us.
Your ticket has been assigned to a technician.
We will contact you within two working days.
Could you tell me when the engineer will arrive?
The bank will update its opening hours in March.
The mortgage rate is fixed for the first five years.
The central bank publishes its report on Thursday.
The company will announce its results after the market closes.
The fund invests in bonds and shares from twenty countries.
The share price closed at forty two dollars.
The clinic offers appointments on Saturday mornings.
Store the syrup in the fridge after opening.
The patient was moved to the second floor.
Blood tests are done in the morning before breakfast.
The semi-final will be broadcast live on channel four.
The team will play its next game away from home.
The marathon starts at the town hall and ends at the harbour.
The club has signed a new goalkeeper from Portugal.
The quarterly review is scheduled for the last week of June.
Please submit your timesheet by Friday afternoon.
Contractors must wear a visitor badge on site.
The warehouse runs two shifts from Monday to Saturday.
The training session covers the new expense system.
Term starts on the fifth of September.
The school has four hundred pupils and thirty teachers.
Parents can collect the reports from the office.
The exam consists of two papers of ninety minutes each.
The train to the airport leaves from platform two.
The bus route has been changed during the roadworks.
Tickets can be bought online or at the station.
Tomorrow will be cloudy with a high of eighteen degrees.
The library is on the second floor of the town hall.
The neighbours are moving to another city in May.
I am going to the supermarket after work.
We usually eat dinner at seven.
My brother works as an accountant in a small firm.
The recipe uses flour, butter, sugar and two eggs.
The parcel is due to arrive on Tuesday.
The pharmacy shares a building with the dentist.
The gallery shows works by local painters until August.
The game can be played alone or with up to four friends.
The tent sleeps three people and weighs two kilos.
The vacuum comes with two extra brushes.
The knives are made of stainless steel.
The scanner saves documents as PDF files.
Guests can use the pool from eight until eight.
The city has a population of about half a million.
The course is taught online over six weeks.
The charity was founded in nineteen ninety.
The insurance covers the house and its contents.
The landlord will inspect the flat next week.
The builders start work on the kitchen on Monday.
The keyboard connects by cable or by Bluetooth.
Refunds are processed to the original payment method.
The hospital car park charges by the hour.
The pizza comes in three sizes.
The document has been translated into Spanish and French.
The chair can be adjusted in height.
The festival takes place over three days in July.
The phone has two cameras on the back and one on the front.
The fridge has a freezer compartment at the bottom.
What time does the pharmacy close on Saturdays?
Is there a car park near the stadium?
How many people work in the sales department?
The report lists the sales figures for each region.
The council will vote on the new budget next week.
The minister is visiting the factory on Wednesday.
Credit card payments are accepted for orders over ten pounds.
The support team can be reached by phone or chat.
The company employs about three thousand people.
"""

MIXED = """
The kettle looks lovely but it is very loud.
Comfortable boots, though they started leaking after a month.
The laptop is fast, but the battery barely lasts three hours.
Great mattress for the price, shame it smells so strongly of chemicals.
The item works well, yet the packaging was damaged and a screw was missing.
Powerful blender, but cleaning it is a nightmare.
The screen is gorgeous while the speakers sound tinny.
The food was tasty but the portions were tiny.
Lovely staff, terrible wait.
Wonderful oysters, a sadly overcooked lamb.
Nice view from the terrace, although the coffee was bitter and cold.
The dessert was amazing but the bill was outrageous.
Spotless bathroom, though the bed was rock hard.
Beautiful beach, awful hotel food.
The guide was brilliant even though the bus was late and cramped.
Great location, noisy rooms.
The airline's seats were roomy, but they charged for water.
The film looks stunning, but the story is weak.
Brilliant acting wasted on a dull script.
Clever premise, clumsy execution.
The singer was fantastic although the sound system kept failing.
I loved the characters but hated the ending.
The app has useful features but crashes far too often.
The update made it faster, but it broke the export button.
Easy to install, yet the documentation is hopeless.
The interface is pretty, the performance is poor.
The call centre was friendly, yet my bill is still wrong.
They fixed the fault eventually, although it took four visits.
Quick reply from support, useless answer.
The bank's app is handy, but the fees are ridiculous.
Profits rose sharply, yet thousands of jobs were cut.
The company beat its sales target but warned of a difficult year ahead.
The nurses were wonderful, the waiting times were not.
The treatment worked, though the side effects were miserable.
The doctor was kind but the clinic was chaotic.
We played well and still lost in the last minute.
The atmosphere was electric, though our seats had no view of the pitch.
A great goal, in an otherwise boring match.
My boss is fair, but the hours are brutal.
The new office looks great, however the commute is much longer.
The training was interesting though far too long.
The teachers are dedicated, yet the classrooms are overcrowded.
The train was fast but dirty.
The new bus route is convenient, although the buses are always full.
Sunny morning, miserable afternoon.
The party was fun until the neighbours called the police.
The moisturiser smells nice but did nothing for my dry skin.
The gym has great equipment, shame about the changing rooms.
The plumber did a good job but left a terrible mess.
Delivery was fast, but the wrong colour arrived.
The museum is fascinating, although the cafe is overpriced.
Fun game, but it is ruined by constant adverts.
The sequel has better effects and a worse story.
The tent is light, but the poles bent in the wind.
The robot mop cleans well, but it keeps getting stuck under the sofa.
Sharp knives, flimsy handles.
Prints look great, but the ink costs a fortune.
Breakfast was generous, the coffee was undrinkable.
The city is beautiful but ridiculously expensive.
The course content is excellent, while the platform is clunky.
The charity does good work, though its adverts are annoying.
The insurance paid out in the end, after months of stress.
The flat is bright and central, but the landlord never answers.
The builders were friendly, yet they finished two weeks late.
The keyboard feels great, but the software is buggy.
I got my refund, but only after six angry emails.
The hospital saved his life, though the food was dreadful.
Delicious pizza, rude delivery driver.
The subtitles were accurate although they appeared too late.
Comfortable chair, but the assembly instructions were useless.
The festival line-up was superb although the toilets were disgusting.
Brilliant camera, disappointing battery.
The fridge is quiet but the freezer frosts up every week.
I enjoyed the trip, although the weather was awful.
The phone is beautiful but overheats when gaming.
The hotel staff were lovely; the room itself was shabby.
A warm, funny film with a painfully slow middle.
Cheap and cheerful, but it broke within a year.
The concert was wonderful; getting home afterwards was a nightmare.
Good value overall, though customer service was slow to respond.
I love the design, I hate the price.
The wine list is superb; the cheese board was dry and sad.
The kids enjoyed the zoo, but the queues were exhausting.
Useful tool, terrible customer support.
Fast delivery and great price, but the quality is poor.
The seminar was well organised, although the speakers were boring.
The garden looks lovely now, but the landscaper overcharged us.
The coffee is excellent whereas the pastries are stale.
The dentist was gentle but the bill was shocking.
The software is powerful, but the learning curve is brutal.
I passed the exam, though my best friend failed and I feel bad.
Amazing scenery on the hike, but my boots gave me blisters.
The radio sounds warm and clear, yet the dial broke in a week.
Good news on inflation, bad news for house prices.
"""

LABELS = ("POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED")
EXAMPLES: dict[str, list[str]] = {
    label: [line.strip() for line in text.strip().splitlines() if line.strip()]
    for label, text in zip(LABELS, (POSITIVE, NEGATIVE, NEUTRAL, MIXED), strict=True)
}
