# expect: ok
import threading


def run(xs):
    for x in xs:
        def work():
            print(x)
        t = threading.Thread(target=work)
        t.start()
        t.join()
