# expect: ok
def first(xs):
    for x in xs:
        if x:
            return lambda: x
    return None
