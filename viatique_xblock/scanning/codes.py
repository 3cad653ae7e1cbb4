"""Anonymous copy codes: short, random, unambiguous when read aloud or typed."""
import secrets

#: no 0/O, 1/I/L, 2/Z, 5/S, 8/B: codes survive handwriting and phone calls
ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
LENGTH = 5


def new_code():
    """A random code of :data:`LENGTH` characters of :data:`ALPHABET` (one draw of the CSPRNG, uniform)."""
    number, code = secrets.randbelow(len(ALPHABET) ** LENGTH), ""
    for _ in range(LENGTH):
        number, digit = divmod(number, len(ALPHABET))
        code += ALPHABET[digit]
    return code
