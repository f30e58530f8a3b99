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
