# expect: unverified
from elsewhere import process


def run(xs):
    for x in xs:
        process(lambda: x)
