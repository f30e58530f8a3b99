<?php
// Client-matrix checks for PHP's PDO and mysqli (mysqlnd).
// Usage: php matrix.php pdo|mysqli CHECK...; connection from RDSMUX_* env.
// Prints one JSON line per check: {"check", "ok", "detail"}.

$api = $argv[1];
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);

function env($k) { $v = getenv($k); return $v === false ? '' : $v; }

function pdo_connect(array $opts = [], string $charset = '') {
    $dsn = 'mysql:host=' . env('RDSMUX_HOST') . ';port=' . env('RDSMUX_PORT');
    if (env('RDSMUX_DB') !== '') $dsn .= ';dbname=' . env('RDSMUX_DB');
    if ($charset !== '') $dsn .= ';charset=' . $charset;
    $opts += [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_TIMEOUT => 10];
    return new PDO($dsn, env('RDSMUX_USER'), env('RDSMUX_PASS'), $opts);
}

function mysqli_connect_env(int $flags = 0, array $options = []) {
    $m = mysqli_init();
    $m->options(MYSQLI_OPT_CONNECT_TIMEOUT, 10);
    foreach ($options as $k => $v) $m->options($k, $v);
    $db = env('RDSMUX_DB') === '' ? null : env('RDSMUX_DB');
    $m->real_connect(env('RDSMUX_HOST'), env('RDSMUX_USER'), env('RDSMUX_PASS'), $db, (int)env('RDSMUX_PORT'), null, $flags);
    return $m;
}

function err_detail(Throwable $e) {
    if ($e instanceof PDOException) {
        $info = $e->errorInfo;
        return ['code' => $info[1] ?? $e->getCode(), 'state' => $info[0] ?? null, 'message' => $info[2] ?? $e->getMessage()];
    }
    if ($e instanceof mysqli_sql_exception) {
        return ['code' => $e->getCode(), 'state' => $e->getSqlState(), 'message' => $e->getMessage()];
    }
    return ['message' => get_class($e) . ': ' . $e->getMessage()];
}

$checks = [];

$checks['probe'] = function () use ($api) {
    try {
        if ($api === 'pdo') {
            $c = pdo_connect();
            $c->query(env('RDSMUX_SQL'))->fetchAll();
        } else {
            $c = mysqli_connect_env();
            $c->query(env('RDSMUX_SQL'));
        }
        return [true, 'no error'];
    } catch (Throwable $e) {
        return [false, err_detail($e)];
    }
};

$TAG = env('RDSMUX_TAG') ?: 'x';
$UNI = "h\u{e9}llo w\u{f6}rld \u{65e5}\u{672c}\u{8a9e} \u{1F600}";

function conn($charset = 'utf8mb4', array $opts = [], int $flags = 0) {
    global $api;
    if ($api === 'pdo') {
        return pdo_connect($opts, $charset);
    }
    $m = mysqli_connect_env($flags, $opts);
    if ($charset !== '') $m->set_charset($charset);
    return $m;
}

function rows($c, string $sql, array $params = []) {
    global $api;
    if ($api === 'pdo') {
        $st = $c->prepare($sql);
        $st->execute($params);
        return $st->fetchAll(PDO::FETCH_NUM);
    }
    if (!$params) {
        $r = $c->query($sql);
        return $r === true ? [] : $r->fetch_all(MYSQLI_NUM);
    }
    $st = $c->prepare($sql);
    $st->execute($params);
    $r = $st->get_result();
    $out = $r === false ? [] : $r->fetch_all(MYSQLI_NUM);
    $st->close();
    return $out;
}

function exec_sql($c, string $sql) {
    global $api;
    return $api === 'pdo' ? $c->exec($sql) : $c->query($sql);
}

function cs_ok($want, $got) { return $got === $want || ($want === 'utf8' && ($got === 'utf8' || $got === 'utf8mb3')); }

$native = [PDO::ATTR_EMULATE_PREPARES => false];

$checks['charsets'] = function () {
    $out = []; $ok = true;
    foreach (['utf8mb4', 'utf8', 'latin1', 'ascii'] as $cs) {
        $c = conn($cs);
        $r = rows($c, 'SELECT @@character_set_client, @@character_set_connection, @@character_set_results')[0];
        $out[$cs] = $r;
        foreach ($r as $v) $ok = $ok && cs_ok($cs, $v);
    }
    return [$ok, $out];
};
$checks['unicode'] = function () use ($UNI, $native) {
    $c = conn('utf8mb4', $GLOBALS['api'] === 'pdo' ? $native : []);
    $a = rows($c, "SELECT '$UNI'")[0][0];
    $b = rows($c, 'SELECT ?', [$UNI])[0][0];
    return [$a === $UNI && $b === $UNI, [$a, $b]];
};
$checks['types'] = function () use ($UNI, $TAG, $native) {
    $c = conn('utf8mb4', $GLOBALS['api'] === 'pdo' ? $native : []);
    $t = "matrix_types_$TAG";
    $blob = str_repeat(implode('', array_map('chr', range(0, 255))), 4096);
    $dt = '2024-02-29 13:14:15.123456';
    $dec = '12345678901234.123456';
    $doc = ['a' => [1, 2, ['b' => $UNI]], 'n' => null];
    exec_sql($c, "DELETE FROM $t");
    rows($c, "INSERT INTO $t (id, j, d, dt, b, n, s) VALUES (?, ?, ?, ?, ?, ?, ?)", [1, json_encode($doc), $dec, $dt, $blob, null, $UNI]);
    $r = rows($c, "SELECT id, j, d, dt, b, n, s FROM $t WHERE id = ?", [1])[0];
    $got = ['id' => $r[0] == 1, 'json' => json_decode($r[1], true) === $doc, 'decimal' => (string)$r[2] === $dec,
        'datetime' => $r[3] === $dt, 'blob' => $r[4] === $blob, 'null' => $r[5] === null, 'str' => $r[6] === $UNI];
    return [!in_array(false, $got, true), $got];
};
$checks['json_metadata'] = function () { return [true, "n/a: the library does not read MariaDB's extended metadata"]; };
$checks['metadata_cache'] = function () { return [true, "n/a: mysqlnd does not ask for MariaDB's metadata cache"]; };
$checks['stmt_cache'] = function () use ($native) {
    global $api;
    $c = conn('utf8mb4', $api === 'pdo' ? $native : []);
    $st = $c->prepare('SELECT ? + 1');
    $total = 0;
    for ($i = 0; $i < 50; $i++) {
        if ($api === 'pdo') {
            $st->execute([$i]);
            $total += $st->fetchColumn();
            $st->closeCursor();
        } else {
            $st->execute([$i]);
            $total += $st->get_result()->fetch_row()[0];
        }
    }
    return [$total == 1275, $total];
};
$checks['transactions'] = function () use ($TAG) {
    global $api;
    $c = conn();
    $t = "matrix_auto_$TAG";
    $count = function () use ($c, $t) { return (int)rows($c, "SELECT COUNT(*) FROM $t WHERE v = 'tx'")[0][0]; };
    exec_sql($c, "DELETE FROM $t WHERE v = 'tx'");
    $api === 'pdo' ? $c->beginTransaction() : $c->begin_transaction();
    exec_sql($c, "INSERT INTO $t (v) VALUES ('tx')");
    $in = $count();
    $c->rollback();
    $rb = $count();
    $api === 'pdo' ? $c->beginTransaction() : $c->begin_transaction();
    exec_sql($c, "INSERT INTO $t (v) VALUES ('tx')");
    $c->commit();
    $cm = $count();
    return [[$in, $rb, $cm] === [1, 0, 1], [$in, $rb, $cm]];
};
$checks['insert_id'] = function () use ($TAG) {
    global $api;
    $c = conn();
    exec_sql($c, "INSERT INTO matrix_auto_$TAG (v) VALUES ('id')");
    $id = (int)($api === 'pdo' ? $c->lastInsertId() : $c->insert_id);
    rows($c, 'SELECT 1');
    $l = (int)rows($c, 'SELECT LAST_INSERT_ID()')[0][0];
    return [$id > 0 && $id === $l, [$id, $l]];
};
$checks['dup_key'] = function () use ($TAG) {
    $c = conn();
    exec_sql($c, "INSERT IGNORE INTO matrix_auto_$TAG (id, v) VALUES (1, 'dup')");
    try {
        exec_sql($c, "INSERT INTO matrix_auto_$TAG (id, v) VALUES (1, 'dup')");
        return [false, 'no error'];
    } catch (Throwable $e) {
        $d = err_detail($e);
        return [$d['code'] == 1062 && $d['state'] === '23000', $d];
    }
};
$checks['warnings'] = function () {
    global $api;
    $c = conn();
    exec_sql($c, "DO CAST('12abc' AS SIGNED)");
    $n = $api === 'pdo' ? null : $c->warning_count;
    $w = rows($c, 'SHOW WARNINGS');
    $ok = count($w) === 1 && (int)$w[0][1] === 1292 && ($n === null || $n === 1);
    return [$ok, [$n, $w]];
};
$checks['call_multi'] = function () {
    global $api;
    $c = conn();
    $sets = [];
    if ($api === 'pdo') {
        $st = $c->query('CALL matrix_two()');
        do {
            if ($st->columnCount() > 0) $sets[] = $st->fetchAll(PDO::FETCH_NUM);
        } while ($st->nextRowset());
        $st->closeCursor();
    } else {
        $c->multi_query('CALL matrix_two()');
        do {
            if ($r = $c->store_result()) { $sets[] = $r->fetch_all(MYSQLI_NUM); $r->free(); }
        } while ($c->more_results() && $c->next_result());
    }
    $after = (int)rows($c, 'SELECT 7')[0][0];
    return [$sets == [[[1]], [[2]]] && $after === 7, $sets];
};
$checks['multi_on'] = function () {
    global $api;
    $sets = [];
    if ($api === 'pdo') {
        $c = conn('utf8mb4', [PDO::MYSQL_ATTR_MULTI_STATEMENTS => true]);
        $st = $c->query('SELECT 1; SELECT 2');
        do { $sets[] = $st->fetchAll(PDO::FETCH_NUM); } while ($st->nextRowset());
    } else {
        $c = conn();
        $c->multi_query('SELECT 1; SELECT 2');
        do {
            if ($r = $c->store_result()) { $sets[] = $r->fetch_all(MYSQLI_NUM); $r->free(); }
        } while ($c->more_results() && $c->next_result());
    }
    return [$sets == [[[1]], [[2]]], $sets];
};
$checks['multi_off'] = function () {
    global $api;
    if ($api !== 'pdo') return [true, 'n/a: mysqli batches only through multi_query'];
    $c = conn('utf8mb4', [PDO::MYSQL_ATTR_MULTI_STATEMENTS => false]);
    try {
        $c->query('SELECT 1; SELECT 2');
        return [false, 'batch accepted'];
    } catch (Throwable $e) {
        $d = err_detail($e);
        return [$d['code'] == 1064, $d];
    }
};
$checks['select_db'] = function () {
    global $api;
    $c = conn();
    if ($api === 'pdo') exec_sql($c, 'USE mysql'); else $c->select_db('mysql');
    $a = rows($c, 'SELECT DATABASE()')[0][0];
    if ($api === 'pdo') exec_sql($c, 'USE test'); else $c->select_db('test');
    $b = rows($c, 'SELECT DATABASE()')[0][0];
    return [[$a, $b] === ['mysql', 'test'], [$a, $b]];
};
$checks['change_user'] = function () {
    global $api;
    if ($api === 'pdo') return [true, 'n/a: PDO has no COM_CHANGE_USER'];
    $c = conn();
    exec_sql($c, 'SET @matrix = 1');
    $c->change_user(env('RDSMUX_USER'), env('RDSMUX_PASS'), 'mysql');
    $r = rows($c, 'SELECT DATABASE(), @matrix, CURRENT_USER()')[0];
    return [$r[0] === 'mysql' && $r[1] === null && str_starts_with($r[2], env('RDSMUX_USER') . '@'), $r];
};
$checks['reset'] = function () { return [true, 'n/a: no COM_RESET_CONNECTION in this library']; };
$checks['session_state'] = function () {
    $c = conn();
    exec_sql($c, 'SET @matrix = 42');
    exec_sql($c, "SET SESSION time_zone = '+05:30'");
    $vals = [];
    for ($i = 0; $i < 20; $i++) $vals[] = rows($c, 'SELECT @matrix, @@time_zone')[0];
    $ok = true;
    foreach ($vals as $v) $ok = $ok && (int)$v[0] === 42 && $v[1] === '+05:30';
    return [$ok, array_slice($vals, 0, 3)];
};
$checks['stream'] = function () {
    global $api;
    $n = 0; $s = 0;
    if ($api === 'pdo') {
        $c = conn('utf8mb4', [PDO::MYSQL_ATTR_USE_BUFFERED_QUERY => false]);
        $st = $c->query('SELECT seq FROM seq_1_to_50000');
        while (($v = $st->fetchColumn()) !== false) { $n++; $s += $v; }
        $st->closeCursor();
    } else {
        $c = conn();
        $r = $c->query('SELECT seq FROM seq_1_to_50000', MYSQLI_USE_RESULT);
        while ($row = $r->fetch_row()) { $n++; $s += $row[0]; }
        $r->free();
    }
    $after = (int)rows($c, 'SELECT 3')[0][0];
    return [$n === 50000 && $s === 50000 * 50001 / 2 && $after === 3, [$n, $s]];
};
$checks['cursor'] = function () {
    global $api;
    if ($api === 'pdo') return [true, 'n/a: PDO opens no server-side cursors'];
    $c = conn();
    $st = $c->prepare('SELECT seq FROM seq_1_to_1000 WHERE seq > ?');
    $st->attr_set(MYSQLI_STMT_ATTR_CURSOR_TYPE, MYSQLI_CURSOR_TYPE_READ_ONLY);
    $min = 0;
    $st->bind_param('i', $min);
    $st->execute();
    $st->bind_result($v);
    $n = 0; $s = 0;
    while ($st->fetch()) { $n++; $s += $v; }
    $st->close();
    $after = (int)rows($c, 'SELECT 3')[0][0];
    return [$n === 1000 && $s === 500500 && $after === 3, [$n, $s]];
};
$checks['local_infile'] = function () use ($TAG) {
    global $api;
    $c = $api === 'pdo' ? conn('utf8mb4', [PDO::MYSQL_ATTR_LOCAL_INFILE => true]) : conn('utf8mb4', [MYSQLI_OPT_LOCAL_INFILE => true]);
    $t = "matrix_auto_$TAG";
    exec_sql($c, "DELETE FROM $t WHERE v LIKE 'inf%'");
    $path = env('RDSMUX_INFILE');
    $res = exec_sql($c, "LOAD DATA LOCAL INFILE '$path' INTO TABLE $t (v)");
    $rows = $api === 'pdo' ? $res : $c->affected_rows;
    $n = (int)rows($c, "SELECT COUNT(*) FROM $t WHERE v LIKE 'inf%'")[0][0];
    return [$rows === 1000 && $n === 1000, [$rows, $n]];
};
$checks['burst'] = function () {
    $conns = []; $errors = [];
    for ($i = 0; $i < 200; $i++) {
        try { $conns[] = conn(); } catch (Throwable $e) { $errors[] = err_detail($e); }
    }
    $ok = 0;
    foreach ($conns as $c) { if ((int)rows($c, 'SELECT 1 + 1')[0][0] === 2) $ok++; }
    return [$ok === 200, ['ok' => $ok, 'errors' => array_slice($errors, 0, 3)]];
};

foreach (array_slice($argv, 2) as $name) {
    $ok = false;
    if (!isset($checks[$name])) {
        $detail = 'unknown check';
    } else {
        try {
            [$ok, $detail] = $checks[$name]();
        } catch (Throwable $e) {
            $detail = err_detail($e);
        }
    }
    echo json_encode(['check' => $name, 'ok' => (bool)$ok, 'detail' => $detail], JSON_INVALID_UTF8_SUBSTITUTE), "\n";
}
