"""Qt-free domain: identifiers, clocks, enums and the rules of territories, referrals and rewards."""
