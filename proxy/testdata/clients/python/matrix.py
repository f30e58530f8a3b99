"""Client-matrix checks for PyMySQL and mysqlclient (MySQLdb).

Usage: matrix.py pymysql|MySQLdb CHECK...; connection from RDSMUX_* env.
Prints one JSON line per check: {"check", "ok", "detail"}.
"""
import json
import os
import sys
import traceback

DRIVER = sys.argv[1]
if DRIVER == "pymysql":
    import pymysql as db
    import pymysql.constants.CLIENT as CLIENT
else:
    import MySQLdb as db
    import MySQLdb.constants.CLIENT as CLIENT

ENV = os.environ


def connect(**kw):
    args = dict(host=ENV["RDSMUX_HOST"], port=int(ENV["RDSMUX_PORT"]),
                user=ENV["RDSMUX_USER"], passwd=ENV["RDSMUX_PASS"],
                connect_timeout=10)
    if ENV.get("RDSMUX_DB"):
        args["db"] = ENV["RDSMUX_DB"]
    args.update(kw)
    return db.connect(**args)


def err_detail(e):
    code = e.args[0] if e.args else None
    msg = e.args[1] if len(e.args) > 1 else str(e)
    return {"code": code, "message": msg}


def check_probe():
    try:
        c = connect()
        cur = c.cursor()
        cur.execute(ENV["RDSMUX_SQL"])
        cur.fetchall()
        c.close()
        return True, "no error"
    except db.Error as e:
        return False, err_detail(e)


CHECKS = {name[len("check_"):]: fn for name, fn in globals().items() if name.startswith("check_")}

for name in sys.argv[2:]:
    fn = CHECKS.get(name)
    if fn is None:
        print(json.dumps({"check": name, "ok": False, "detail": "unknown check"}), flush=True)
        continue
    try:
        ok, detail = fn()
    except Exception as e:  # a failed check, not a failed script
        ok, detail = False, "%s: %s" % (type(e).__name__, traceback.format_exc(limit=3))
    print(json.dumps({"check": name, "ok": bool(ok), "detail": detail}, default=str), flush=True)
