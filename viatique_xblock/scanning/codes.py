"""Anonymous copy codes: short, random, unambiguous when read aloud or typed."""
import secrets

#: no 0/O, 1/I/L, 2/Z, 5/S, 8/B: codes survive handwriting and phone calls
ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
LENGTH = 5


def new_code():
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
