# The benchmark app on Flask, served by gunicorn (gthread workers): the same routes and the
# same work as bench/apps/work.ts.
import hashlib
import time

from flask import Flask, request

CPU_ITERATIONS = 160_000  # as in work.ts
WAIT_SECONDS = 0.05

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello, World!"


@app.get("/json")
def as_json():
    return {"message": "Hello, World!"}


@app.get("/user/<id>")
def user(id):
    return {"id": id, "x": request.args.get("x")}


@app.post("/echo")
def echo():
    return request.get_json()


@app.get("/cpu")
def cpu():
    return hashlib.pbkdf2_hmac("sha256", b"password", b"salt", CPU_ITERATIONS, 32).hex()


@app.get("/block")
def block():
    time.sleep(WAIT_SECONDS)
    return "blocked"


@app.get("/io")
def io():
    time.sleep(WAIT_SECONDS)
    return "waited"
