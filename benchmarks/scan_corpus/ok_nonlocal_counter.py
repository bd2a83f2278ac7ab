# expect: ok
def run(xs):
    for x in xs:
        count = 0
        def bump():
            nonlocal count
            count += 1
        bump()
