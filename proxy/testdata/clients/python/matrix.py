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


TAG = ENV.get("RDSMUX_TAG", "x")
UNI = "h\u00e9llo w\u00f6rld \u65e5\u672c\u8a9e \U0001F600"


def query(c, sql, args=None):
    cur = c.cursor()
    cur.execute(sql, args)
    rows = cur.fetchall()
    cur.close()
    return rows


def cs_ok(want, got):
    return got == want or (want == "utf8" and got in ("utf8", "utf8mb3"))


def check_charsets():
    out = {}
    ok = True
    for cs in ("utf8mb4", "utf8", "latin1", "ascii"):
        c = connect(charset=cs)
        row = query(c, "SELECT @@character_set_client, @@character_set_connection, @@character_set_results")[0]
        row = [v.decode() if isinstance(v, bytes) else v for v in row]
        out[cs] = row
        ok = ok and all(cs_ok(cs, v) for v in row)
        c.close()
    return ok, out


def check_unicode():
    c = connect(charset="utf8mb4")
    lit = query(c, "SELECT '%s'" % UNI)[0][0]
    par = query(c, "SELECT %s", (UNI,))[0][0]
    c.close()
    return lit == UNI and par == UNI, [lit, par]


def check_types():
    import datetime
    import decimal
    c = connect(charset="utf8mb4", autocommit=True)
    t = "matrix_types_" + TAG
    blob = bytes(range(256)) * 4096
    dt = datetime.datetime(2024, 2, 29, 13, 14, 15, 123456)
    dec = decimal.Decimal("12345678901234.123456")
    doc = {"a": [1, 2, {"b": UNI}], "n": None}
    query(c, "DELETE FROM " + t)
    query(c, "INSERT INTO " + t + " (id, j, d, dt, b, n, s) VALUES (%s, %s, %s, %s, %s, %s, %s)",
          (1, json.dumps(doc), dec, dt, blob, None, UNI))
    row = query(c, "SELECT id, j, d, dt, b, n, s FROM " + t + " WHERE id = %s", (1,))[0]
    c.close()
    got = {"id": row[0] == 1, "json": json.loads(row[1]) == doc, "decimal": row[2] == dec,
           "datetime": row[3] == dt, "blob": bytes(row[4]) == blob, "null": row[5] is None, "str": row[6] == UNI}
    return all(got.values()), got


def check_stmt_cache():
    c = connect()
    cur = c.cursor()
    total = 0
    for i in range(50):
        cur.execute("SELECT %s + 1", (i,))
        total += cur.fetchall()[0][0]
    c.close()
    return total == sum(range(1, 51)), total


def check_transactions():
    c = connect(autocommit=True)
    t = "matrix_auto_" + TAG
    query(c, "DELETE FROM " + t + " WHERE v = 'tx'")
    query(c, "BEGIN")
    query(c, "INSERT INTO " + t + " (v) VALUES ('tx')")
    inside = query(c, "SELECT COUNT(*) FROM " + t + " WHERE v = 'tx'")[0][0]
    c.rollback()
    after_rb = query(c, "SELECT COUNT(*) FROM " + t + " WHERE v = 'tx'")[0][0]
    query(c, "BEGIN")
    query(c, "INSERT INTO " + t + " (v) VALUES ('tx')")
    c.commit()
    after_commit = query(c, "SELECT COUNT(*) FROM " + t + " WHERE v = 'tx'")[0][0]
    c.close()
    return (inside, after_rb, after_commit) == (1, 0, 1), [inside, after_rb, after_commit]


def check_insert_id():
    c = connect(autocommit=True)
    cur = c.cursor()
    cur.execute("INSERT INTO matrix_auto_" + TAG + " (v) VALUES ('id')")
    rid = cur.lastrowid
    cur.execute("SELECT 1")
    cur.fetchall()
    cur.execute("SELECT LAST_INSERT_ID()")
    lid = cur.fetchall()[0][0]
    c.close()
    return rid > 0 and rid == lid, [rid, lid]


def check_dup_key():
    c = connect(autocommit=True)
    t = "matrix_auto_" + TAG
    query(c, "INSERT IGNORE INTO " + t + " (id, v) VALUES (1, 'dup')")
    try:
        query(c, "INSERT INTO " + t + " (id, v) VALUES (1, 'dup')")
        return False, "no error"
    except db.Error as e:
        d = err_detail(e)
        return d["code"] == 1062 and isinstance(e, db.IntegrityError), d
    finally:
        c.close()


def check_warnings():
    c = connect()
    cur = c.cursor()
    cur.execute("SELECT CAST('12abc' AS SIGNED)")
    cur.fetchall()
    n = c.warning_count() if DRIVER == "MySQLdb" else cur._result.warning_count
    cur.execute("SHOW WARNINGS")
    w = cur.fetchall()
    c.close()
    return n == 1 and len(w) == 1 and w[0][1] == 1292, [n, [list(x) for x in w]]


def check_call_multi():
    c = connect()
    cur = c.cursor()
    cur.execute("CALL matrix_two()")
    sets = [cur.fetchall()]
    while cur.nextset():
        sets.append(cur.fetchall())
    cur.close()
    ok = query(c, "SELECT 7")[0][0] == 7
    c.close()
    sets = [[list(r) for r in s] for s in sets]
    return ok and sets[:2] == [[[1]], [[2]]], sets


def check_multi_on():
    c = connect(client_flag=CLIENT.MULTI_STATEMENTS)
    cur = c.cursor()
    cur.execute("SELECT 1; SELECT 2")
    sets = [cur.fetchall()]
    while cur.nextset():
        sets.append(cur.fetchall())
    c.close()
    sets = [[list(r) for r in s] for s in sets if s is not None]
    return sets == [[[1]], [[2]]], sets


def check_multi_off():
    c = connect()
    try:
        query(c, "SELECT 1; SELECT 2")
        return False, "batch accepted"
    except db.Error as e:
        d = err_detail(e)
        return d["code"] == 1064, d
    finally:
        c.close()


def check_select_db():
    c = connect()
    c.select_db("mysql")
    a = query(c, "SELECT DATABASE()")[0][0]
    c.select_db("test")
    b = query(c, "SELECT DATABASE()")[0][0]
    c.close()
    return (a, b) == ("mysql", "test"), [a, b]


def check_session_state():
    c = connect()
    query(c, "SET @matrix = 42")
    query(c, "SET SESSION time_zone = '+05:30'")
    vals = []
    for _ in range(20):
        vals.append(query(c, "SELECT @matrix, @@time_zone")[0])
    c.close()
    vals = [(int(a) if a is not None else None, b) for a, b in vals]
    return all(v == (42, "+05:30") for v in vals), vals[:3]


def check_stream():
    if DRIVER == "pymysql":
        cls = db.cursors.SSCursor
    else:
        import MySQLdb.cursors
        cls = MySQLdb.cursors.SSCursor
    c = connect()
    cur = c.cursor(cls)
    cur.execute("SELECT seq FROM seq_1_to_50000")
    n = s = 0
    for (v,) in cur:
        n += 1
        s += v
    cur.close()
    after = query(c, "SELECT 3")[0][0]
    c.close()
    return n == 50000 and s == 50000 * 50001 // 2 and after == 3, [n, s]


def check_local_infile():
    c = connect(local_infile=True, autocommit=True)
    t = "matrix_auto_" + TAG
    query(c, "DELETE FROM " + t + " WHERE v LIKE 'inf%%'")
    cur = c.cursor()
    cur.execute("LOAD DATA LOCAL INFILE %s INTO TABLE " + t + " (v)", (ENV["RDSMUX_INFILE"],))
    rows = cur.rowcount
    n = query(c, "SELECT COUNT(*) FROM " + t + " WHERE v LIKE 'inf%%'")[0][0]
    c.close()
    return rows == 1000 and n == 1000, [rows, n]


def check_burst():
    import threading
    errors = []
    ids = []
    lock = threading.Lock()

    def one():
        try:
            c = connect()
            v = query(c, "SELECT 1 + 1")[0][0]
            c.close()
            with lock:
                ids.append(v)
        except Exception as e:
            with lock:
                errors.append(str(e))
    threads = [threading.Thread(target=one) for _ in range(200)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return len(ids) == 200 and not errors, {"ok": len(ids), "errors": errors[:3]}


def check_change_user():
    if DRIVER != "MySQLdb":
        return True, "n/a: PyMySQL has no COM_CHANGE_USER"
    c = connect()
    query(c, "SET @matrix = 1")
    c.change_user(ENV["RDSMUX_USER"], ENV["RDSMUX_PASS"], "mysql")
    row = query(c, "SELECT DATABASE(), @matrix, CURRENT_USER()")[0]
    c.close()
    return row[0] == "mysql" and row[1] is None and row[2].startswith(ENV["RDSMUX_USER"] + "@"), list(row)


def check_json_metadata():
    return True, "n/a: the library does not read MariaDB's extended metadata"


def check_metadata_cache():
    return True, "n/a: no server-side prepared statements in this library"


def check_reset():
    return True, "n/a: no COM_RESET_CONNECTION in this library"


def check_cursor():
    return True, "n/a: no server-side cursors in this library (streaming is the stream check)"


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
