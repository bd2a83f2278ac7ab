# expect: ok
def run(groups):
    for group in groups:
        seen = []
        def note(item):
            seen.append(item)
        for item in group:
            note(item)
        print(seen)
