"""Word lists the demo data generator combines into company names, people, streets and notes.

Combinatorial on purpose: a few hundred words give hundreds of thousands of distinct, plausible names
without shipping a names database. Websites and e-mail addresses use the reserved ``.example`` domain
(RFC 2606) and phone numbers the fictional 555-01xx range, so demo data never reaches a real business.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    # A word list reads and edits better as prose than as two hundred quoted items.
    return tuple(text.split())


SURNAMES = _words(
    "Abbott Adams Alvarez Anderson Armstrong Bailey Baker Barnes Bauer Bell Bennett Bishop Blake "
    "Brennan Brooks Bryant Burke Campbell Carlson Carter Castillo Chandler Chen Clark Cole Collins "
    "Cooper Crawford Cruz Cunningham Daniels Davidson Dawson Delgado Diaz Dixon Donovan Douglas "
    "Duncan Dunn Edwards Ellis Erickson Evans Farmer Ferguson Fischer Fleming Fletcher Flores Ford "
    "Foster Fox Franklin Fraser Fuller Garcia Gardner Garrison Gibson Gilbert Gonzalez Goodwin "
    "Graham Grant Gray Greene Griffin Hale Hamilton Hansen Hardy Harper Harris Hart Hayes Henderson "
    "Hoffman Holland Holmes Howard Hudson Hughes Hunt Jacobs Jensen Johnson Jordan Kane Keller "
    "Kelly Kennedy Kim Klein Knight Lambert Larson Lawrence Lee Lindqvist Logan Lopez Lowe Lynch "
    "Mack Maddox Marsh Martin Mason McCarthy McKenzie Meyer Miller Mitchell Monroe Moore Morales "
    "Morgan Murphy Nash Nelson Newman Nguyen Nolan Novak Oakley Olsen Ortiz Owens Palmer Parker "
    "Patel Pearson Perry Peterson Phillips Porter Powell Quinn Ramirez Reed Reyes Reynolds Rhodes "
    "Richards Riley Rivera Roberts Robinson Rogers Ross Russell Ryan Sanders Santos Schmidt Schultz "
    "Scott Shaw Simmons Singh Sloan Spencer Stanley Stewart Stone Sullivan Sutton Taylor Thornton "
    "Torres Tucker Turner Vance Vargas Wagner Walker Wallace Walsh Ward Warren Watson Weaver Webb "
    "Wells West Wheeler Whitaker White Williams Wilson Wolfe Wright Young Zimmerman"
)

FIRST_NAMES = _words(
    "Aaron Abigail Adrian Aisha Alan Alex Alicia Amanda Amir Andrea Angela Anna Anthony Ari Ashley "
    "Ben Beth Brandon Brian Caleb Carla Carlos Carmen Chloe Chris Claire Colin Dana Daniel David "
    "Deborah Derek Diana Diego Dylan Elena Eli Elijah Emily Emma Eric Erin Ethan Eva Fatima Felix "
    "Fiona Frank Gabriel Grace Greg Hannah Harold Hector Helen Ian Irene Isaac Isabel Jack Jacob "
    "James Jamal Jane Jason Jenna Jessica Joanna Joel John Jordan Jose Joseph Julia Julian Justin "
    "Karen Kate Kevin Kim Laura Lauren Leah Leo Linda Lisa Luis Luke Maria Mark Marcus Martha Maya "
    "Megan Michael Michelle Mike Mohammed Monica Nadia Nathan Nicole Noah Nora Olivia Omar Oscar "
    "Paul Paula Peter Rachel Rafael Rebecca Ricardo Robert Rosa Ruth Ryan Samantha Samuel Sara Sean "
    "Sofia Stephen Steven Susan Tanya Teresa Thomas Tim Tina Tyler Vanessa Victor Vivian Wei Will "
    "Yusuf Zoe"
)

JOB_TITLES = (
    "Owner",
    "Owner",
    "General Manager",
    "Operations Manager",
    "Purchasing Manager",
    "Office Manager",
    "Buyer",
    "Chief Financial Officer",
    "Facilities Manager",
    "Plant Manager",
    "Practice Manager",
    "Store Manager",
    "Procurement Lead",
    "Director of Operations",
    "Head of IT",
    "Controller",
    "Marketing Manager",
    "Assistant Manager",
)

# industry -> (weight, words that make a company of that industry sound right, employee scale)
INDUSTRIES: dict[str, tuple[int, tuple[str, ...], float]] = {
    "Manufacturing": (
        14,
        (
            "Manufacturing",
            "Fabrication",
            "Machine Works",
            "Tool & Die",
            "Industries",
            "Metalworks",
            "Plastics",
            "Components",
        ),
        2.0,
    ),
    "Construction": (
        12,
        ("Construction", "Builders", "Contracting", "Roofing", "Concrete", "Excavating", "Homes"),
        1.2,
    ),
    "Healthcare": (
        11,
        (
            "Medical Group",
            "Family Dental",
            "Health Partners",
            "Clinic",
            "Physical Therapy",
            "Pharmacy",
            "Veterinary Hospital",
        ),
        1.5,
    ),
    "Retail": (
        12,
        ("Hardware", "Outfitters", "Market", "Supply", "Home Center", "Garden Center", "Appliance"),
        1.0,
    ),
    "Hospitality": (
        9,
        ("Grill", "Bistro", "Hotel", "Inn", "Catering", "Brewing Co.", "Bakery"),
        1.0,
    ),
    "Automotive": (
        7,
        (
            "Auto Repair",
            "Motors",
            "Collision Center",
            "Tire & Service",
            "Auto Parts",
            "Truck Center",
        ),
        1.0,
    ),
    "Professional Services": (
        9,
        (
            "Consulting",
            "Accounting",
            "Law Offices",
            "Engineering",
            "Architects",
            "Insurance Agency",
        ),
        1.1,
    ),
    "Logistics": (
        6,
        ("Logistics", "Freight", "Trucking", "Distribution", "Warehousing", "Moving & Storage"),
        1.6,
    ),
    "Agriculture": (5, ("Farms", "Feed & Seed", "Orchards", "Dairy", "Nursery", "Ranch"), 0.8),
    "Technology": (7, ("Software", "Systems", "Networks", "Data", "Labs", "IT Solutions"), 1.7),
    "Education": (
        4,
        ("Academy", "Learning Center", "Montessori School", "Training Institute"),
        1.3,
    ),
    "Energy & Utilities": (4, ("Energy", "Solar", "Electric", "Propane", "Power Services"), 1.8),
}

COMPANY_SUFFIXES = ("Inc.", "LLC", "Co.", "Corp.", "Group", "& Sons", "Ltd.", "")
COMPANY_SUFFIX_WEIGHTS = (22, 30, 10, 6, 8, 4, 3, 17)

NAME_ADJECTIVES = (
    "American",
    "Atlantic",
    "Blue Ridge",
    "Bright",
    "Capital",
    "Cardinal",
    "Cedar",
    "Central",
    "Coastal",
    "Eagle",
    "Evergreen",
    "First",
    "Frontier",
    "Golden",
    "Granite",
    "Great Lakes",
    "Harbor",
    "Heartland",
    "Heritage",
    "Highland",
    "Keystone",
    "Liberty",
    "Lone Star",
    "Maple",
    "Meridian",
    "Midwest",
    "Mountain",
    "Northern",
    "Oak",
    "Pacific",
    "Patriot",
    "Pinnacle",
    "Pioneer",
    "Prairie",
    "Premier",
    "Redwood",
    "Ridgeline",
    "River",
    "Silver",
    "Southern",
    "Summit",
    "Sunrise",
    "Tri-County",
    "Union",
    "United",
    "Valley",
    "Westside",
    "Willow",
)

STREET_NAMES = (
    "Main",
    "Oak",
    "Maple",
    "Pine",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Walnut",
    "Jefferson",
    "Lincoln",
    "Franklin",
    "Madison",
    "Church",
    "Spring",
    "Ridge",
    "River",
    "Mill",
    "Market",
    "Union",
    "Center",
    "Highland",
    "Chestnut",
    "Sunset",
    "Forest",
    "Meadow",
    "Industrial",
    "Commerce",
    "Railroad",
    "Water",
    "Front",
    "Bridge",
    "Prospect",
    "School",
    "Broad",
    "Liberty",
    "Adams",
    "Jackson",
    "Grant",
    "Harrison",
    "Cherry",
    "Birch",
    "Willow",
    "Dogwood",
    "Magnolia",
    "Airport",
    "Technology",
    "Enterprise",
    "Corporate",
    "Old Mill",
    "Valley View",
    "Lakeshore",
)
STREET_TYPES = ("St", "Ave", "Rd", "Blvd", "Dr", "Ln", "Way", "Pkwy", "Ct", "Pl", "Hwy")
STREET_TYPE_WEIGHTS = (30, 22, 18, 6, 10, 4, 3, 3, 2, 1, 1)

ACCOUNT_NOTES = (
    "Prefers visits on Tuesday mornings.",
    "Decision maker is the owner; call ahead.",
    "Budget review every January.",
    "Uses a competitor for consumables; open to a trial.",
    "Loading dock at the back; park on the side street.",
    "Asked for a quote on the premium line.",
    "Seasonal business: busy from May to September.",
    "Pays on time; candidate for the loyalty program.",
    "New purchasing manager since spring.",
    "Interested in volume pricing.",
)

VISIT_NOTES = {
    "met": (
        "Reviewed current needs and open orders.",
        "Walked the site with the owner.",
        "Presented the new catalogue.",
        "Checked stock levels and reorder points.",
        "Good conversation; relationship is solid.",
    ),
    "no_show": (
        "Contact not on site; left a card.",
        "Office closed; reschedule.",
        "Buyer called in sick.",
    ),
    "follow_up": (
        "Needs pricing for 3 options.",
        "Wants a demo for the team.",
        "Asked for references from similar customers.",
        "Send samples next week.",
    ),
    "order": (
        "Placed a reorder on the spot.",
        "Signed the annual supply agreement.",
        "Ordered the starter package.",
        "Upgraded to the premium plan.",
    ),
    "lost": (
        "Switched to a competitor on price.",
        "Business is closing this location.",
        "Budget frozen for the year.",
    ),
}
NEXT_STEPS = (
    "Send quote",
    "Schedule demo",
    "Call back in two weeks",
    "Email product sheet",
    "Book follow-up visit",
    "Introduce service team",
    "Check delivery date",
)

TASK_TITLES = (
    "Call back {name}",
    "Send quote to {name}",
    "Follow up on samples at {name}",
    "Prepare proposal for {name}",
    "Confirm delivery with {name}",
    "Book next visit at {name}",
    "Check payment status of {name}",
    "Contact referral from {name}",
)

DEAL_DESCRIPTIONS = (
    "Annual supply agreement",
    "Reorder",
    "Starter package",
    "Service contract",
    "Equipment upgrade",
    "Seasonal order",
    "Premium plan",
    "Spare parts",
)

LOST_REASONS = (
    "Chose a competitor",
    "No budget this year",
    "Could not be reached",
    "Not a fit for our products",
    "Duplicate of an existing customer",
    "Timing: revisit next year",
)

REFERRAL_NOTES = (
    "Met at the trade show.",
    "Neighbour of the referrer.",
    "Same owner group.",
    "Looking to switch suppliers.",
    "Opening a second location.",
    "Referrer will make the introduction.",
    "Urgent: needs an offer this month.",
)
