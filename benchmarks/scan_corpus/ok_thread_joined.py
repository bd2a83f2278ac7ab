# expect: ok
import threading


def run(xs):
    for x in xs:
        t = threading.Thread(target=lambda: print(x))
        t.start()
        t.join()
