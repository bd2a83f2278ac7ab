# expect: bug
class Box:
    pass


def make(xs):
    boxes = []
    for x in xs:
        box = Box()
        box.get = lambda: x
        boxes.append(box)
    return boxes
