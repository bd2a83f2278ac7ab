# expect: bug
def make(events):
    out = []
    for event in events:
        match event:
            case {"kind": kind}:
                out.append(lambda: kind)
    return out
