"""The original experiment's sign-up API, on its own stack: Flask, mongoengine over MongoDB,
served by gunicorn with gevent workers, the confirmation e-mail sent blocking, from a background
thread, or not at all. It meets mailbench's target contract (POST /api/users, 201 per stored user,
one e-mail per 201 carrying X-Registration-Id), so the harness loads it like its own API.

Configured by the environment (the harness sets it; see README.md):
  MB_MONGO_URI        mongodb://host:port/DATABASE (the database the users go to)
  MB_SMTP_HOST/PORT   where the e-mail goes (the harness's sink)
  MB_EMAIL_MODE       no-email | blocking | thread
  MB_EMAIL_DELAY_MS   a sleep inside the e-mail function before it connects (the original's delay)
  MB_PASSWORD_HASH    none | werkzeug (werkzeug's default: pbkdf2:sha256, 260 000 rounds in 2.2)
"""
import os
import secrets
import smtplib
import threading
import time
from email.message import EmailMessage

import mongoengine as me
from flask import Flask, jsonify, request
from werkzeug.security import generate_password_hash

MODES = ("no-email", "blocking", "thread")
HASHES = ("none", "werkzeug")


def setting(name, default=None, choices=None):
    value = os.environ.get(name, default)
    if value is None:
        raise SystemExit(f"flask-seed: {name} is required")
    if choices and value not in choices:
        raise SystemExit(f"flask-seed: {name} must be one of {', '.join(choices)}, not {value!r}")
    return value


MONGO_URI = setting("MB_MONGO_URI")
SMTP_HOST = setting("MB_SMTP_HOST", "127.0.0.1")
SMTP_PORT = int(setting("MB_SMTP_PORT", "2525"))
MODE = setting("MB_EMAIL_MODE", "blocking", MODES)
DELAY_S = int(setting("MB_EMAIL_DELAY_MS", "0")) / 1000
HASH = setting("MB_PASSWORD_HASH", "none", HASHES)
SENDER = "mailbench <noreply@example.test>"

# The database comes from the URI's path; mongoengine passes the rest to pymongo.
me.connect(host=MONGO_URI)


class User(me.Document):
    username = me.StringField(required=True, unique=True, max_length=32)
    email = me.StringField(required=True, unique=True, max_length=254)
    password = me.StringField(required=True)
    confirm_token = me.StringField(required=True)
    meta = {"collection": "users"}


app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024


def send_confirmation(user_id, address, token):
    """One e-mail, one SMTP connection: what smtplib does, and what the original did."""
    if DELAY_S:
        time.sleep(DELAY_S)
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = address
    msg["Subject"] = "Confirm your account"
    msg["Message-ID"] = f"<{user_id}.{secrets.token_hex(4)}@flask-seed.example.test>"
    msg["X-Registration-Id"] = user_id
    msg.set_content(f"Welcome! Confirm your account: http://flask-seed.example.test/api/users/confirm?token={token}\n")
    with smtplib.SMTP(SMTP_HOST, SMTP_PORT, timeout=30) as smtp:
        smtp.send_message(msg)


def send_in_background(*args):
    def run():
        try:
            send_confirmation(*args)
        except Exception as err:  # the reply has gone: all that is left is to say so
            app.logger.warning("e-mail to %s failed: %s", args[1], err)

    threading.Thread(target=run, daemon=True).start()


def bad_request(message, status=400):
    return jsonify(error=message), status


@app.post("/api/users")
def sign_up():
    if not request.is_json:
        return bad_request("expected application/json", 415)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return bad_request("malformed JSON")
    fields = {k: body.get(k) for k in ("username", "email", "password")}
    missing = [k for k, v in fields.items() if not isinstance(v, str) or not v]
    if missing:
        return bad_request(f"missing or empty: {', '.join(missing)}")
    if len(fields["username"]) > 32 or "@" not in fields["email"]:
        return bad_request("invalid username or email")
    password = generate_password_hash(fields["password"]) if HASH == "werkzeug" else fields["password"]
    token = secrets.token_urlsafe(24)
    user = User(username=fields["username"], email=fields["email"], password=password, confirm_token=token)
    try:
        user.save()
    except me.NotUniqueError:
        return bad_request("username or email already registered", 409)
    user_id = str(user.id)
    if MODE == "blocking":
        # As in the original: a failed send is an unhandled error (500) after the user was stored.
        send_confirmation(user_id, user.email, token)
        status = "sent"
    elif MODE == "thread":
        send_in_background(user_id, user.email, token)
        status = "queued"
    else:
        status = "none"
    return jsonify(id=user_id, emailStatus=status), 201


@app.errorhandler(413)
def too_large(_err):
    return bad_request("request body too large", 413)


@app.get("/health")
def health():
    return jsonify(ok=True, mode=MODE, hash=HASH, delayMs=int(DELAY_S * 1000))
