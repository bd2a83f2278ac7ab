# expect: bug
HANDLERS = []
for level in range(3):
    HANDLERS.append(lambda: level)
