// Client-matrix checks for Node's mysql2.
// Usage: node matrix.js CHECK...; connection from RDSMUX_* env.
// Prints one JSON line per check: {"check", "ok", "detail"}.
'use strict';
const mysql = require('mysql2/promise');

const env = process.env;

function config(extra) {
  return Object.assign({
    host: env.RDSMUX_HOST, port: Number(env.RDSMUX_PORT),
    user: env.RDSMUX_USER, password: env.RDSMUX_PASS,
    database: env.RDSMUX_DB || undefined, connectTimeout: 10000,
  }, extra || {});
}

function errDetail(e) {
  return { code: e.errno, state: e.sqlState, message: e.sqlMessage || e.message };
}

const checks = {
  async probe() {
    let c;
    try {
      c = await mysql.createConnection(config());
      await c.query(env.RDSMUX_SQL);
      return [true, 'no error'];
    } catch (e) {
      return [false, errDetail(e)];
    } finally {
      if (c) c.destroy();
    }
  },
};

const fs = require('fs');
const TAG = env.RDSMUX_TAG || 'x';
const UNI = 'h\u00e9llo w\u00f6rld \u65e5\u672c\u8a9e \u{1F600}';

async function withConn(extra, fn) {
  const c = await mysql.createConnection(config(extra));
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}

function csOk(want, got) {
  return got === want || (want === 'utf8' && (got === 'utf8' || got === 'utf8mb3'));
}

Object.assign(checks, {
  async charsets() {
    const out = {};
    let ok = true;
    for (const [cs, coll] of [['utf8mb4', 'UTF8MB4_GENERAL_CI'], ['utf8', 'UTF8_GENERAL_CI'],
      ['latin1', 'LATIN1_SWEDISH_CI'], ['ascii', 'ASCII_GENERAL_CI']]) {
      await withConn({ charset: coll }, async (c) => {
        const [rows] = await c.query({ sql: 'SELECT @@character_set_client, @@character_set_connection, @@character_set_results', rowsAsArray: true });
        out[cs] = rows[0];
        ok = ok && rows[0].every((v) => csOk(cs, v));
      });
    }
    return [ok, out];
  },
  async unicode() {
    return withConn({ charset: 'UTF8MB4_GENERAL_CI' }, async (c) => {
      const [[a]] = await c.query({ sql: `SELECT '${UNI}'`, rowsAsArray: true });
      const [[b]] = await c.execute({ sql: 'SELECT ?', rowsAsArray: true }, [UNI]);
      return [a[0] === UNI && b[0] === UNI, [a[0], b[0]]];
    });
  },
  async types() {
    return withConn({ charset: 'UTF8MB4_GENERAL_CI', dateStrings: true, supportBigNumbers: true, decimalNumbers: false }, async (c) => {
      const t = 'matrix_types_' + TAG;
      const blob = Buffer.alloc(1 << 20);
      for (let i = 0; i < blob.length; i++) blob[i] = i & 0xff;
      const dt = '2024-02-29 13:14:15.123456';
      const dec = '12345678901234.123456';
      const doc = { a: [1, 2, { b: UNI }], n: null };
      await c.query('DELETE FROM ' + t);
      await c.execute('INSERT INTO ' + t + ' (id, j, d, dt, b, n, s) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [1, JSON.stringify(doc), dec, dt, blob, null, UNI]);
      const got = {};
      for (const [api, run] of [['execute', (q, p) => c.execute(q, p)], ['query', (q, p) => c.query(q, p)]]) {
        const [[r]] = await run('SELECT id, j, d, dt, b, n, s FROM ' + t + ' WHERE id = ?', [1]);
        const j = typeof r.j === 'string' ? JSON.parse(r.j) : r.j;
        got[api] = {
          id: r.id === 1, json: JSON.stringify(j) === JSON.stringify(doc), decimal: String(r.d) === dec,
          datetime: r.dt === dt, blob: Buffer.isBuffer(r.b) && r.b.equals(blob), null: r.n === null, str: r.s === UNI,
        };
      }
      const ok = Object.values(got).every((g) => Object.values(g).every(Boolean));
      return [ok, got];
    });
  },
  async json_metadata() {
    // MariaDB announces JSON columns in its extended metadata: mysql2 then
    // returns them parsed, in the text and the binary protocol.
    return withConn({}, async (c) => {
      const t = 'matrix_types_' + TAG;
      await c.query('DELETE FROM ' + t);
      await c.query('INSERT INTO ' + t + ' (id, j) VALUES (1, \'{"k": [1, 2]}\')');
      const [[a]] = await c.query('SELECT j FROM ' + t);
      const [[b]] = await c.execute('SELECT j FROM ' + t + ' WHERE id = ?', [1]);
      const ok = typeof a.j === 'object' && typeof b.j === 'object' && a.j.k[1] === 2 && b.j.k[1] === 2;
      return [ok, { text: typeof a.j, binary: typeof b.j }];
    });
  },
  async metadata_cache() {
    return [true, "n/a: mysql2 does not ask for MariaDB's metadata cache"];
  },
  async stmt_cache() {
    return withConn({}, async (c) => {
      let total = 0;
      for (let i = 0; i < 50; i++) {
        const [[r]] = await c.execute({ sql: 'SELECT ? + 1 AS v', rowsAsArray: true }, [i]);
        total += Number(r[0]);
      }
      return [total === 1275, total];
    });
  },
  async transactions() {
    return withConn({}, async (c) => {
      const t = 'matrix_auto_' + TAG;
      const count = async () => (await c.query(`SELECT COUNT(*) AS n FROM ${t} WHERE v = 'tx'`))[0][0].n;
      await c.query(`DELETE FROM ${t} WHERE v = 'tx'`);
      await c.beginTransaction();
      await c.query(`INSERT INTO ${t} (v) VALUES ('tx')`);
      const inside = await count();
      await c.rollback();
      const afterRb = await count();
      await c.beginTransaction();
      await c.execute(`INSERT INTO ${t} (v) VALUES (?)`, ['tx']);
      await c.commit();
      const afterCommit = await count();
      const got = [inside, afterRb, afterCommit].map(Number);
      return [got.join() === '1,0,1', got];
    });
  },
  async insert_id() {
    return withConn({}, async (c) => {
      const [h] = await c.query(`INSERT INTO matrix_auto_${TAG} (v) VALUES ('id')`);
      await c.query('SELECT 1');
      const [[r]] = await c.query({ sql: 'SELECT LAST_INSERT_ID()', rowsAsArray: true });
      const [h2] = await c.execute(`INSERT INTO matrix_auto_${TAG} (v) VALUES (?)`, ['id2']);
      return [h.insertId > 0 && Number(r[0]) === h.insertId && h2.insertId === h.insertId + 1, [h.insertId, r[0], h2.insertId]];
    });
  },
  async dup_key() {
    return withConn({}, async (c) => {
      await c.query(`INSERT IGNORE INTO matrix_auto_${TAG} (id, v) VALUES (1, 'dup')`);
      try {
        await c.query(`INSERT INTO matrix_auto_${TAG} (id, v) VALUES (1, 'dup')`);
        return [false, 'no error'];
      } catch (e) {
        return [e.errno === 1062 && e.sqlState === '23000', errDetail(e)];
      }
    });
  },
  async warnings() {
    return withConn({}, async (c) => {
      const [h] = await c.query("DO CAST('12abc' AS SIGNED)");
      const [w] = await c.query('SHOW WARNINGS');
      return [h.warningStatus === 1 && w.length === 1 && w[0].Code === 1292, [h.warningStatus, w]];
    });
  },
  async call_multi() {
    return withConn({}, async (c) => {
      const [res] = await c.query('CALL matrix_two()');
      const [[after]] = await c.query({ sql: 'SELECT 7', rowsAsArray: true });
      const ok = res[0][0].a === 1 && res[1][0].b === 2 && after[0] === 7;
      return [ok, res.slice(0, 2)];
    });
  },
  async multi_on() {
    return withConn({ multipleStatements: true }, async (c) => {
      const [res] = await c.query({ sql: 'SELECT 1; SELECT 2', rowsAsArray: true });
      return [JSON.stringify(res) === '[[[1]],[[2]]]', res];
    });
  },
  async multi_off() {
    return withConn({}, async (c) => {
      try {
        await c.query('SELECT 1; SELECT 2');
        return [false, 'batch accepted'];
      } catch (e) {
        return [e.errno === 1064, errDetail(e)];
      }
    });
  },
  async select_db() {
    return withConn({}, async (c) => {
      await c.query('USE mysql');
      const [[a]] = await c.query({ sql: 'SELECT DATABASE()', rowsAsArray: true });
      await c.changeUser({ database: 'test' });
      const [[b]] = await c.query({ sql: 'SELECT DATABASE()', rowsAsArray: true });
      return [a[0] === 'mysql' && b[0] === 'test', [a[0], b[0]]];
    });
  },
  async change_user() {
    return withConn({}, async (c) => {
      await c.query('SET @matrix = 1');
      await c.changeUser({ user: env.RDSMUX_USER, password: env.RDSMUX_PASS, database: 'mysql' });
      const [[r]] = await c.query({ sql: 'SELECT DATABASE(), @matrix, CURRENT_USER()', rowsAsArray: true });
      return [r[0] === 'mysql' && r[1] === null && r[2].startsWith(env.RDSMUX_USER + '@'), r];
    });
  },
  async reset() {
    return withConn({}, async (c) => {
      await c.query('SET @matrix = 1');
      await new Promise((resolve, reject) => c.connection.reset((err) => (err ? reject(err) : resolve())));
      const [[r]] = await c.query({ sql: 'SELECT @matrix, DATABASE()', rowsAsArray: true });
      return [r[0] === null && r[1] === 'test', r];
    });
  },
  async session_state() {
    return withConn({}, async (c) => {
      await c.query("SET @matrix = 42");
      await c.query("SET SESSION time_zone = '+05:30'");
      const vals = [];
      for (let i = 0; i < 20; i++) {
        const [[r]] = await c.query({ sql: 'SELECT @matrix, @@time_zone', rowsAsArray: true });
        vals.push([Number(r[0]), r[1]]);
      }
      return [vals.every((v) => v[0] === 42 && v[1] === '+05:30'), vals.slice(0, 3)];
    });
  },
  async stream() {
    return withConn({}, async (c) => {
      let n = 0;
      let s = 0;
      await new Promise((resolve, reject) => {
        c.connection.query('SELECT seq FROM seq_1_to_50000').stream()
          .on('data', (r) => { n++; s += Number(r.seq); })
          .on('error', reject).on('end', resolve);
      });
      const [[r]] = await c.query({ sql: 'SELECT 3', rowsAsArray: true });
      return [n === 50000 && s === 50000 * 50001 / 2 && r[0] === 3, [n, s]];
    });
  },
  async cursor() {
    return [true, 'n/a: mysql2 does not open server-side cursors'];
  },
  async local_infile() {
    return withConn({}, async (c) => {
      const t = 'matrix_auto_' + TAG;
      await c.query(`DELETE FROM ${t} WHERE v LIKE 'inf%'`);
      const [h] = await c.query({ sql: `LOAD DATA LOCAL INFILE 'rows' INTO TABLE ${t} (v)`,
        infileStreamFactory: () => fs.createReadStream(env.RDSMUX_INFILE) });
      const [[r]] = await c.query({ sql: `SELECT COUNT(*) FROM ${t} WHERE v LIKE 'inf%'`, rowsAsArray: true });
      return [h.affectedRows === 1000 && Number(r[0]) === 1000, [h.affectedRows, r[0]]];
    });
  },
  async burst() {
    const res = await Promise.allSettled(Array.from({ length: 200 }, () => withConn({}, async (c) => {
      const [[r]] = await c.query({ sql: 'SELECT 1 + 1', rowsAsArray: true });
      return r[0];
    })));
    const ok = res.filter((r) => r.status === 'fulfilled' && r.value === 2).length;
    const errors = res.filter((r) => r.status === 'rejected').slice(0, 3).map((r) => String(r.reason));
    return [ok === 200, { ok, errors }];
  },
});

(async () => {
  for (const name of process.argv.slice(2)) {
    let ok = false;
    let detail;
    const fn = checks[name];
    if (!fn) {
      detail = 'unknown check';
    } else {
      try {
        [ok, detail] = await fn();
      } catch (e) {
        detail = String(e && e.stack || e);
      }
    }
    process.stdout.write(JSON.stringify({ check: name, ok: !!ok, detail }) + '\n');
  }
  process.exit(0);
})();
