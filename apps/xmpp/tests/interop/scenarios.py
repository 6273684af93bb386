"""Interop scenarios against a running bream-xmpp, driven by slixmpp (a third-party client).

Run by apps/xmpp/tests/interop.rs; each scenario prints one JSON object on its last line:
{"ok": true, ...} or {"ok": false, "error": "..."}, and exits 0 only when ok.

    python scenarios.py --host 127.0.0.1 --port 5222 --domain localhost login alice secret
    python scenarios.py ... chat alice secret bob secret
    python scenarios.py ... offline alice secret bob secret
    python scenarios.py ... resume alice secret bob secret
    python scenarios.py ... carbons alice secret bob secret
    python scenarios.py ... phone alice secret bob secret
    python scenarios.py ... register mercutio secret tybalt secret
"""

import argparse
import asyncio
import json
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

DEADLINE = 10.0


def make_client(jid, password, mechanism=None, tls=True):
    client = slixmpp.ClientXMPP(jid, password, sasl_mech=mechanism)
    client.enable_direct_tls = False
    client.enable_starttls = tls
    client.enable_plaintext = not tls
    # The server's certificate is self-signed on first start.
    client.ssl_context.check_hostname = False
    client.ssl_context.verify_mode = ssl.CERT_NONE
    if not tls:
        client["feature_mechanisms"].unencrypted_plain = True
        client["feature_mechanisms"].unencrypted_scram = True
    client.register_plugin("xep_0030")
    client.register_plugin("xep_0199")
    return client


async def session(client, host, port):
    """Connects and waits for session_start (or a failure)."""
    started = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _: started.done() or started.set_result(True))
    client.add_event_handler("failed_auth", lambda _: started.done() or started.set_exception(RuntimeError("auth failed")))
    client.add_event_handler("connection_failed", lambda e: started.done() or started.set_exception(RuntimeError(f"connection failed: {e}")))
    client.connect(host, port)
    await asyncio.wait_for(started, DEADLINE)
    return client


async def close(client):
    disconnected = asyncio.get_running_loop().create_future()
    client.add_event_handler("disconnected", lambda _: disconnected.done() or disconnected.set_result(True))
    client.disconnect()
    try:
        await asyncio.wait_for(disconnected, DEADLINE)
    except asyncio.TimeoutError:
        pass


async def login(args):
    results = {}
    for mechanism in ["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512"]:
        client = make_client(f"{args.user}@{args.domain}/interop", args.password, mechanism)
        await session(client, args.host, args.port)
        transport = getattr(client, "transport", None)
        encrypted = transport is not None and transport.get_extra_info("ssl_object") is not None
        if not encrypted:
            return {"ok": False, "error": f"{mechanism} login did not run over STARTTLS"}
        results[mechanism] = "ok over STARTTLS"
        await close(client)
    wrong = make_client(f"{args.user}@{args.domain}/interop", args.password + "-wrong", "SCRAM-SHA-256")
    try:
        await session(wrong, args.host, args.port)
        return {"ok": False, "error": "a wrong password was accepted"}
    except (RuntimeError, asyncio.TimeoutError):
        results["wrong password"] = "refused"
    finally:
        wrong.disconnect()
    return {"ok": True, "mechanisms": results}


async def waited(what, awaitable):
    """Waits up to DEADLINE, naming what did not happen on a timeout."""
    try:
        return await asyncio.wait_for(awaitable, DEADLINE)
    except asyncio.TimeoutError:
        raise RuntimeError(f"timed out waiting for {what}") from None


def next_event(client, name, predicate=lambda _: True):
    future = asyncio.get_running_loop().create_future()

    def handler(event):
        if not future.done() and predicate(event):
            future.set_result(event)

    client.add_event_handler(name, handler)
    return future


async def chat(args):
    alice_jid = f"{args.user}@{args.domain}"
    bob_jid = f"{args.other}@{args.domain}"
    alice = await session(make_client(alice_jid + "/a", args.password), args.host, args.port)
    bob = await session(make_client(bob_jid + "/b", args.other_password), args.host, args.port)
    report = {}

    # Roster: each starts empty (or with what an earlier run left) and can be read.
    await alice.get_roster()
    await bob.get_roster()
    alice.send_presence()
    bob.send_presence()
    # A round trip after each initial presence: the server has made both available before the
    # subscription handshake starts. (A subscribe racing the contact's initial presence is kept
    # as a pending request; see the issue note.)
    await alice["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)
    await bob["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)

    # Subscription handshake: alice asks, bob approves and asks back, alice approves.
    # slixmpp answers and returns subscription requests by itself (auto_authorize,
    # auto_subscribe), so every waiter is registered before the first request goes out.
    bob_asked = next_event(bob, "presence_subscribe", lambda p: p["from"].bare == alice_jid)
    alice_asked = next_event(alice, "presence_subscribe", lambda p: p["from"].bare == bob_jid)
    alice_sees_bob = next_event(alice, "presence_available", lambda p: p["from"].bare == bob_jid)
    alice.send_presence(pto=bob_jid, ptype="subscribe")
    await waited("bob to receive alice's subscribe", bob_asked)
    bob.send_presence(pto=alice_jid, ptype="subscribed")
    bob.send_presence(pto=alice_jid, ptype="subscribe")
    await waited("alice to receive bob's subscribe", alice_asked)
    alice.send_presence(pto=bob_jid, ptype="subscribed")
    await waited("alice to see bob available", alice_sees_bob)
    # slixmpp sends the roster version it saw last (XEP-0237): the server answers with an
    # empty result and pushes what changed since, which slixmpp applies to its roster; a ping
    # after them orders the pushes before the read.
    await alice.get_roster()
    await alice["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)
    subscription = alice.client_roster[bob_jid]["subscription"]
    report["alice's roster entry for bob"] = subscription
    if subscription != "both":
        return {"ok": False, "error": f"subscription is {subscription!r}, expected 'both'", **report}

    # Messages both ways.
    got = next_event(bob, "message", lambda m: m["body"] == "hello bob")
    alice.send_message(mto=bob_jid, mbody="hello bob", mtype="chat")
    message = await waited("bob to get alice's message", got)
    report["bob got"] = message["body"]
    got = next_event(alice, "message", lambda m: m["body"] == "hello alice")
    bob.send_message(mto=alice_jid + "/a", mbody="hello alice", mtype="chat")
    await waited("alice to get bob's message", got)

    # Ping and disco against the server.
    await alice["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)
    info = await alice["xep_0030"].get_info(jid=args.domain, timeout=DEADLINE)
    features = info["disco_info"]["features"]
    report["server features"] = sorted(features)
    if "urn:xmpp:ping" not in features:
        return {"ok": False, "error": "disco#info does not list urn:xmpp:ping", **report}

    await close(alice)
    await close(bob)
    return {"ok": True, **report}


async def offline(args):
    alice_jid = f"{args.user}@{args.domain}"
    bob_jid = f"{args.other}@{args.domain}"
    alice = await session(make_client(alice_jid + "/a", args.password), args.host, args.port)
    alice.send_presence()
    alice.send_message(mto=bob_jid, mbody="while you were out", mtype="chat")
    # A round trip to the server orders the message before the logout.
    await alice["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)
    await close(alice)
    bob = make_client(bob_jid + "/b", args.other_password)
    got = next_event(bob, "message", lambda m: m["body"] == "while you were out")
    bob.add_event_handler("session_start", lambda _: bob.send_presence())
    await session(bob, args.host, args.port)
    message = await asyncio.wait_for(got, DEADLINE)
    await close(bob)
    return {"ok": True, "delivered": message["body"], "from": str(message["from"].bare)}


async def carbons(args):
    """Two resources of one account with carbons (XEP-0280) on, a third party chatting with
    one of them; the other sees both directions. Also checks the stanza-id (XEP-0359)."""
    alice_jid = f"{args.user}@{args.domain}"
    bob_jid = f"{args.other}@{args.domain}"
    clients = []
    for resource in ["a", "b"]:
        client = make_client(f"{alice_jid}/{resource}", args.password)
        client.register_plugin("xep_0280")
        client.register_plugin("xep_0359")
        clients.append(await session(client, args.host, args.port))
    phone, laptop = clients
    bob = await session(make_client(bob_jid + "/b", args.other_password), args.host, args.port)
    for client in [phone, laptop, bob]:
        client.send_presence()
        await client["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)
    await phone["xep_0280"].enable(timeout=DEADLINE)
    await laptop["xep_0280"].enable(timeout=DEADLINE)
    report = {}

    received = next_event(laptop, "carbon_received", lambda m: m["carbon_received"]["body"] == "to the phone")
    direct = next_event(phone, "message", lambda m: m["body"] == "to the phone")
    bob.send_message(mto=alice_jid + "/a", mbody="to the phone", mtype="chat")
    message = await waited("the phone to get bob's message", direct)
    copy = await waited("the laptop's received carbon", received)
    report["received carbon from"] = str(copy["carbon_received"]["from"])
    report["stanza-id by"] = str(message["stanza_id"]["by"])
    if report["stanza-id by"] != alice_jid:
        return {"ok": False, "error": "no stanza-id by the recipient", **report}

    sent = next_event(laptop, "carbon_sent", lambda m: m["carbon_sent"]["body"] == "from the phone")
    phone.send_message(mto=bob_jid, mbody="from the phone", mtype="chat")
    copy = await waited("the laptop's sent carbon", sent)
    report["sent carbon to"] = str(copy["carbon_sent"]["to"])

    for client in [phone, laptop, bob]:
        await close(client)
    return {"ok": True, **report}


async def resume(args):
    """XEP-0198 with slixmpp's xep_0198 plugin: alice enables resumable stream management,
    her connection is cut (no </stream:stream>), bob writes to her while she is away, and
    her reconnection resumes the same session and gets the message."""
    alice_jid = f"{args.user}@{args.domain}/sm"
    bob_jid = f"{args.other}@{args.domain}"
    alice = make_client(alice_jid, args.password)
    alice.register_plugin("xep_0198")
    enabled = next_event(alice, "sm_enabled")
    await session(alice, args.host, args.port)
    await waited("stream management to be enabled", enabled)
    sm = alice["xep_0198"]
    sm_id = sm.sm_id
    if not sm_id:
        return {"ok": False, "error": "no resumable stream management id"}
    # A round trip: the server has counted what alice sent so far.
    await alice["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)

    bob = await session(make_client(bob_jid + "/b", args.other_password), args.host, args.port)
    killed = next_event(alice, "killed")
    alice.abort()
    await waited("alice's connection to be cut", killed)
    bob.send_message(mto=alice_jid, mbody="while you were cut off", mtype="chat")
    await bob["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)

    resumed = next_event(alice, "session_resumed")
    got = next_event(alice, "message", lambda m: m["body"] == "while you were cut off")
    alice.connect(args.host, args.port)
    await waited("the session to be resumed", resumed)
    message = await waited("the message sent while cut off", got)
    if sm.sm_id != sm_id:
        return {"ok": False, "error": f"resumed with id {sm.sm_id}, enabled {sm_id}"}
    # The resumed session is the same full JID: a message to it arrives.
    got = next_event(alice, "message", lambda m: m["body"] == "after the resumption")
    bob.send_message(mto=alice_jid, mbody="after the resumption", mtype="chat")
    await waited("a message after the resumption", got)
    await close(alice)
    await close(bob)
    return {"ok": True, "resumed": True, "got": message["body"], "from": str(message["from"].bare)}


async def phone(args):
    """A phone's session: slixmpp's xep_0352 says inactive, and the server holds bob's
    presence (coalesced) and drops his chat state until his message wakes the client, which
    then gets them in order; slixmpp answers the server's keepalive pings (the server is
    configured to kill a client that does not), so the session outlives two of them."""
    alice_full = f"{args.user}@{args.domain}/phone"
    bob_jid = f"{args.other}@{args.domain}"
    alice = make_client(alice_full, args.password)
    alice.register_plugin("xep_0352")
    pings = []
    second_ping = asyncio.get_running_loop().create_future()

    def on_ping(iq):
        pings.append(iq["id"])
        if len(pings) == 2 and not second_ping.done():
            second_ping.set_result(True)

    alice.register_handler(Callback("server pings", StanzaPath("iq@type=get/ping"), on_ping))
    await session(alice, args.host, args.port)
    if not alice["xep_0352"].enabled:
        return {"ok": False, "error": "the server does not offer <csi/>"}
    bob = await session(make_client(bob_jid + "/b", args.other_password), args.host, args.port)
    seen = []

    def from_bob(stanza):
        return stanza["from"].bare == bob_jid

    alice.add_event_handler("presence_available", lambda p: from_bob(p) and seen.append(f"presence:{p['status']}"))
    alice.add_event_handler("message", lambda m: from_bob(m) and seen.append("message:" + ("body" if m["body"] else "no body")))
    alice.send_presence()
    await alice["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)
    alice["xep_0352"].send_inactive()
    await alice["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)

    bob.send_presence(pto=alice_full, pstatus="one")
    bob.send_raw(f"<message to='{alice_full}'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
    bob.send_presence(pto=alice_full, pstatus="two")
    await bob["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)
    got = next_event(alice, "message", lambda m: from_bob(m) and m["body"] == "wake up")
    bob.send_message(mto=alice_full, mbody="wake up", mtype="chat")
    await waited("bob's message", got)
    report = {"seen while inactive": list(seen)}
    if seen != ["presence:two", "message:body"]:
        return {"ok": False, "error": "not held, coalesced and flushed in order", **report}
    alice["xep_0352"].send_active()

    await waited("two server pings", second_ping)
    # Both answered by slixmpp: the session is still there.
    await alice["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)
    report["server pings answered"] = len(pings)
    await close(alice)
    await close(bob)
    return {"ok": True, **report}


def registering_client(jid, password):
    """A client whose xep_0077 plugin answers the registration stream feature (before
    sign-in) with its own username and password; the future gets "result" or the error
    condition."""
    client = make_client(jid, password)
    for plugin in ["xep_0004", "xep_0066", "xep_0077"]:
        client.register_plugin(plugin)
    outcome = asyncio.get_running_loop().create_future()

    async def on_register(_form):
        iq = client.Iq()
        iq["type"] = "set"
        iq["register"]["username"] = client.boundjid.user
        iq["register"]["password"] = client.password
        try:
            await iq.send(timeout=DEADLINE)
            outcome.set_result("result")
        except IqError as error:
            outcome.set_result(error.iq["error"]["condition"])
            client.disconnect()

    client.add_event_handler("register", on_register)
    return client, outcome


async def register(args):
    """In-band registration (XEP-0077) with slixmpp's xep_0077 plugin: a new account made from
    the stream feature before sign-in, signed in with at once; a second sign-up from the same
    address within registration_timeout is refused."""
    client, outcome = registering_client(f"{args.user}@{args.domain}/reg", args.password)
    await session(client, args.host, args.port)
    report = {"first": await waited("the registration's answer", outcome)}
    await client["xep_0199"].ping(jid=args.domain, timeout=DEADLINE)
    await close(client)
    second, outcome = registering_client(f"{args.other}@{args.domain}/reg", args.other_password)
    second.connect(args.host, args.port)
    report["second"] = await waited("the second registration's answer", outcome)
    await close(second)
    return {"ok": True, **report}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5222)
    parser.add_argument("--domain", default="localhost")
    parser.add_argument("scenario", choices=["login", "chat", "offline", "carbons", "resume", "phone", "register"])
    parser.add_argument("user")
    parser.add_argument("password")
    parser.add_argument("other", nargs="?")
    parser.add_argument("other_password", nargs="?")
    args = parser.parse_args()
    scenario = {
        "login": login,
        "chat": chat,
        "offline": offline,
        "carbons": carbons,
        "resume": resume,
        "phone": phone,
        "register": register,
    }[args.scenario]
    try:
        result = asyncio.run(asyncio.wait_for(scenario(args), 60))
    except Exception as error:  # the test prints it
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    print(json.dumps(result))
    sys.exit(0 if result.get("ok") else 1)


if __name__ == "__main__":
    main()
